using System.Diagnostics;

namespace FlashdutySync.Tests.Support;

/// <summary>Runs a command-line tool of this machine (promtool) and returns what it printed.</summary>
public static class Tool
{
    /// <summary>Where <paramref name="name"/> is on PATH, or a failure naming the package that brings it.</summary>
    public static string Find(string name, string package)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
        return found ?? throw new InvalidOperationException(
            $"{name} is not installed: install Debian's {package} package (bash scripts/ensure-prometheus.sh, which scripts/test.sh runs)");
    }

    public static async Task<(int ExitCode, string Output)> RunAsync(string file, string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
