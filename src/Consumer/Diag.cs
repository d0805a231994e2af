namespace FlashdutySync;

// TEMPORARY instrumentation for issue #15 (quorum loss): a trace file named by QDIAG_FILE. Removed with the fix.
internal static class Diag
{
    private static readonly string? Path = Environment.GetEnvironmentVariable("QDIAG_FILE");
    private static readonly object Sync = new();
    private static readonly System.Diagnostics.Stopwatch Clock = System.Diagnostics.Stopwatch.StartNew();

    public static bool On => Path is not null;

    public static void W(string line)
    {
        if (Path is null) return;
        lock (Sync) File.AppendAllText(Path, $"{DateTime.UtcNow:HH:mm:ss.fff} {line}\n");
    }
}
