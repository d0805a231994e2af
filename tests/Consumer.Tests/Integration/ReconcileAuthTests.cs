using System.Net;
using System.Net.Http.Headers;
using FlashdutySync.Reconcile;
using FlashdutySync.Sync;
using FlashdutySync.Tests.Support;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FlashdutySync.Tests.Integration;

/// <summary>POST /reconcile on the running service: refused without the configured token, before it costs a request.</summary>
[Collection(BrokerCollection.Name)]
public sealed class ReconcileAuthTests(RabbitMqFixture broker)
{
    private const string Token = "0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e";

    private static Uri Url(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().Replace("[::]", "localhost", StringComparison.Ordinal));

    /// <summary>Both schemas read in this replica's term: no download of its own start is still to come.</summary>
    private static Task ActiveAsync(WebApplication app) =>
        Eventually.UntilAsync(() => app.Services.GetRequiredService<MappingEngine>().Schemas.Count == 2, TimeSpan.FromSeconds(20), "the term to start with both schemas");

    private static async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Answer)> PostAsync(Uri url, string? authorization)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(url, "/reconcile?dryRun=true"));
        if (authorization is not null) request.Headers.Authorization = AuthenticationHeaderValue.Parse(authorization);
        var answer = await http.SendAsync(request);
        return (answer.StatusCode, await answer.Content.ReadAsStringAsync(), answer);
    }

    [Fact]
    public async Task WithNoTokenConfigured_ReconcileIsRefused403_NamingTheSetting_AndDownloadsNothing()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        h.Settings["Sync:ReconcileInterval"] = "00:00:00";
        var app = await h.StartServiceAsync();
        await ActiveAsync(app);
        var downloads = h.Simulator.State.Stats.Requests("data/download");

        var (status, body, _) = await PostAsync(Url(app), $"Bearer {Token}");

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Contains("POST /reconcile is turned off on this replica: Reconcile__Token is not set", body);
        var errors = new StringWriter();
        Assert.Equal(1, await ReconcileCommand.RunAsync(["--dry-run", "--url", Url(app).ToString()], new StringWriter(), errors, environment: _ => null));
        Assert.Contains("no token (Reconcile__Token is not set)", errors.ToString());
        Assert.Contains("403 POST /reconcile is turned off", errors.ToString());
        Assert.Equal(downloads, h.Simulator.State.Stats.Requests("data/download"));
    }

    [Fact]
    public async Task WithATokenConfigured_NoneIs401_AnotherIs403_TheRightOneRuns_AndNoTokenIsLogged()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        h.Settings["Reconcile:Token"] = Token;
        h.Settings["Sync:ReconcileInterval"] = "00:00:00"; // only on request: every download below is the endpoint's
        h.Settings["Logging:LogLevel:Default"] = "Information";
        var logs = new CapturingLoggerProvider();
        var app = await h.StartServiceAsync(b => b.Logging.AddProvider(logs));
        var url = Url(app);
        await ActiveAsync(app);
        var downloads = h.Simulator.State.Stats.Requests("data/download");
        const string wrong = "ffffffffffffffffffffffffffffffffffffffff";

        var none = await PostAsync(url, null);
        Assert.Equal(HttpStatusCode.Unauthorized, none.Status);
        Assert.Contains("needs the token of Reconcile__Token as 'Authorization: Bearer <token>'; the request has no Authorization header", none.Body);
        Assert.Equal("Bearer", Assert.Single(none.Answer.Headers.WwwAuthenticate).Scheme);
        var other = await PostAsync(url, $"Bearer {wrong}");
        Assert.Equal(HttpStatusCode.Forbidden, other.Status);
        Assert.Contains("the bearer token does not match Reconcile__Token", other.Body);
        Assert.Equal(downloads, h.Simulator.State.Stats.Requests("data/download")); // refused before any request

        // The command sends the token of its environment, as `kubectl exec` into the pod has it; or of a file.
        var (output, errors) = (new StringWriter(), new StringWriter());
        Assert.Equal(0, await ReconcileCommand.RunAsync(["--dry-run", "--url", url.ToString()], output, errors,
            environment: v => v == "Reconcile__Token" ? Token : null));
        Assert.Contains("Dry run: nothing was written.", output.ToString());
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, Token + "\n"); // as a mounted Secret or `echo` writes it
            Assert.Equal(0, await ReconcileCommand.RunAsync(["--dry-run", "--token-file", file, "--url", url.ToString()], new StringWriter(), errors, environment: _ => null));
            await File.WriteAllTextAsync(file, wrong);
            var refused = new StringWriter();
            Assert.Equal(1, await ReconcileCommand.RunAsync(["--dry-run", "--token-file", file, "--url", url.ToString()], new StringWriter(), refused, environment: _ => Token));
            Assert.Contains("1 replica(s) refused the token", refused.ToString());
            Assert.DoesNotContain(wrong, refused.ToString());
        }
        finally
        {
            File.Delete(file);
        }

        Assert.True(h.Simulator.State.Stats.Requests("data/download") > downloads, "the allowed calls downloaded the schemas");
        Assert.Contains(logs.Lines, l => l.Contains("[142] POST /reconcile from", StringComparison.Ordinal) && l.Contains("refused (401)", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Lines, l => l.Contains(Token, StringComparison.Ordinal) || l.Contains(wrong, StringComparison.Ordinal));
        Assert.DoesNotContain(Token, output.ToString() + errors);
    }
}
