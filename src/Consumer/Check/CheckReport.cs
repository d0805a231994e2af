namespace FlashdutySync.Check;

/// <summary>
/// What <c>check</c> prints: plain lines, warnings and problems where they are found, then the lists and the verdict
/// as the last line. Every line is scrubbed of the app key, whatever produced it (an exception's text included).
/// </summary>
internal sealed class CheckReport(TextWriter output, string appKey)
{
    // A blank or tiny key is refused by validation already; scrubbing one would garble the output.
    private readonly string? _secret = appKey.Trim().Length >= 6 ? appKey.Trim() : null;
    private readonly List<string> _warnings = [];
    private readonly List<string> _problems = [];

    public void Line(string text = "") => output.WriteLine(Scrub(text));

    public void Warning(string text)
    {
        _warnings.Add(text);
        Line("  WARNING: " + text);
    }

    public void Problem(string text)
    {
        _problems.Add(text);
        Line("  PROBLEM: " + text);
    }

    /// <summary>Prints the warnings and problems again, then the verdict; returns the exit code (1 on any problem).</summary>
    public int Finish(long requests)
    {
        Line();
        List("warning", _warnings);
        List("problem", _problems);
        Line(_problems.Count == 0 ? $"check: OK ({requests} requests)" : $"check: {_problems.Count} problem(s) ({requests} requests)");
        return _problems.Count == 0 ? 0 : 1;
    }

    /// <summary>The configuration does not validate: nothing was sent. Returns exit code 2.</summary>
    public int InvalidConfiguration(IEnumerable<string> failures)
    {
        var all = failures.ToList();
        Line("check: the service's configuration is invalid; nothing was sent to Flashduty");
        foreach (var failure in all) Line("  - " + failure);
        Line($"check: {all.Count} configuration problem(s) (0 requests)");
        return 2;
    }

    private void List(string kind, List<string> items)
    {
        if (items.Count == 0) return;
        Line($"{items.Count} {kind}(s):");
        foreach (var item in items) Line("  - " + item);
    }

    private string Scrub(string text) => _secret is null ? text : text.Replace(_secret, "[app key]", StringComparison.Ordinal);
}
