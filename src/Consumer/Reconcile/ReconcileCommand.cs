namespace FlashdutySync.Reconcile;

/// <summary>
/// The <c>reconcile</c> verb: asks the running service's active replica (its health port) to compare Flashduty's rows
/// with what the events set — <c>--dry-run</c>: print the differences, write nothing; without it: repair now. Several
/// <c>--url</c>s (every replica): the one holding the row journal answers, standbys say they do not. Sends the
/// endpoint's token (<c>Reconcile__Token</c> from the environment, as the service reads it, or <c>--token-file</c>)
/// as a bearer token; never takes it on the command line (shell history, the process list) and never prints it, nor
/// the app key.
/// </summary>
public static class ReconcileCommand
{
    public const string Verb = "reconcile";
    private const string Usage = "usage: reconcile [--dry-run] [--token-file FILE] [--url http://replica:8080 ...]   (default --url http://localhost:8080; " +
                                 "the token from --token-file, else from " + ReconcileOptions.TokenVariable + ")";

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter errors, HttpMessageHandler? handler = null, CancellationToken ct = default,
        Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(errors);
        var dryRun = false;
        string? tokenFile = null;
        var urls = new List<Uri>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--dry-run":
                    dryRun = true;
                    break;
                case "--url" when i + 1 < args.Length && Uri.TryCreate(args[i + 1], UriKind.Absolute, out var url) && url.Scheme is "http" or "https":
                    urls.Add(url);
                    i++;
                    break;
                case "--token-file" when i + 1 < args.Length:
                    tokenFile = args[++i];
                    break;
                case "--token-file":
                    await errors.WriteLineAsync("--token-file needs the path of a file holding the token (a mounted Secret, say)");
                    return 2;
                case "--url":
                    await errors.WriteLineAsync($"--url needs an http(s) address, e.g. http://localhost:8080 (got '{(i + 1 < args.Length ? args[i + 1] : "nothing")}')");
                    return 2;
                default:
                    await errors.WriteLineAsync($"unknown argument '{args[i]}'; {Usage}");
                    return 2;
            }
        }

        string? token;
        try
        {
            token = tokenFile is null ? (environment ?? Environment.GetEnvironmentVariable)(ReconcileOptions.TokenVariable) : (await File.ReadAllTextAsync(tokenFile, ct)).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await errors.WriteLineAsync($"--token-file {tokenFile}: cannot be read ({ex.GetType().Name})");
            return 2;
        }

        if (string.IsNullOrEmpty(token))
            await errors.WriteLineAsync($"no token ({ReconcileOptions.TokenVariable} is not set{(tokenFile is null ? "" : $", {tokenFile} is empty")}): the service refuses the call unless it too has none configured");

        if (urls.Count == 0) urls.Add(new Uri("http://localhost:8080"));
        using var http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        http.Timeout = TimeSpan.FromMinutes(6);
        var refused = 0;
        foreach (var url in urls)
        {
            HttpResponseMessage answer;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(url, $"{ReconcileEndpoint.Path}?dryRun={(dryRun ? "true" : "false")}"));
                if (!string.IsNullOrEmpty(token)) request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
                answer = await http.SendAsync(request, ct);
            }
            catch (HttpRequestException ex)
            {
                await errors.WriteLineAsync($"{url}: no answer ({ex.Message})");
                continue;
            }

            using (answer)
            {
                var body = await answer.Content.ReadAsStringAsync(ct);
                if (answer.IsSuccessStatusCode)
                {
                    await output.WriteAsync(body);
                    return 0;
                }

                await errors.WriteLineAsync($"{url}: {(int)answer.StatusCode} {body.TrimEnd()}");
                if (answer.StatusCode is System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden) refused++;
            }
        }

        await errors.WriteLineAsync(refused > 0
            ? $"{refused} replica(s) refused the token (see above): the token sent ({(tokenFile is null ? ReconcileOptions.TokenVariable : tokenFile)}) must be the service's {ReconcileOptions.TokenVariable}"
            : "no replica holding the row journal answered; give each replica's health address with --url");
        return 1;
    }
}
