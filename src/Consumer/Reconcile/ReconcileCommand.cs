namespace FlashdutySync.Reconcile;

/// <summary>
/// The <c>reconcile</c> verb: asks the running service's active replica (its health port) to compare Flashduty's rows
/// with what the events set — <c>--dry-run</c>: print the differences, write nothing; without it: repair now. Several
/// <c>--url</c>s (every replica): the one holding the row journal answers, standbys say they do not. Never needs or
/// prints the app key.
/// </summary>
public static class ReconcileCommand
{
    public const string Verb = "reconcile";
    private const string Usage = "usage: reconcile [--dry-run] [--url http://replica:8080 ...]   (default --url http://localhost:8080)";

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter errors, HttpMessageHandler? handler = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(errors);
        var dryRun = false;
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
                case "--url":
                    await errors.WriteLineAsync($"--url needs an http(s) address, e.g. http://localhost:8080 (got '{(i + 1 < args.Length ? args[i + 1] : "nothing")}')");
                    return 2;
                default:
                    await errors.WriteLineAsync($"unknown argument '{args[i]}'; {Usage}");
                    return 2;
            }
        }

        if (urls.Count == 0) urls.Add(new Uri("http://localhost:8080"));
        using var http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        http.Timeout = TimeSpan.FromMinutes(6);
        foreach (var url in urls)
        {
            HttpResponseMessage answer;
            try
            {
                answer = await http.PostAsync(new Uri(url, $"{ReconcileEndpoint.Path}?dryRun={(dryRun ? "true" : "false")}"), null, ct);
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
            }
        }

        await errors.WriteLineAsync("no replica holding the row journal answered; give each replica's health address with --url");
        return 1;
    }
}
