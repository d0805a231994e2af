using System.Diagnostics;

namespace Benchmark;

/// <summary>The service as it runs in production: its own process, configured by environment variables.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private long _peakKb;

    private ServiceProcess(Process process) => _process = process;

    /// <summary>Echo the service's standard error.</summary>
    public static bool Verbose { get; set; } = true;

    public static async Task<ServiceProcess> StartAsync(string dll, IDictionary<string, string> environment, int healthPort)
    {
        var info = new ProcessStartInfo("dotnet", [dll, "--contentRoot", Path.GetDirectoryName(dll)!])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var (k, v) in environment) info.Environment[k] = v;
        // SERVICE_X=y in the benchmark's environment reaches the service as X=y: runtime and option experiments.
        foreach (var entry in Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>())
        {
            if (entry.Key is string key && key.StartsWith("SERVICE_", StringComparison.Ordinal)) info.Environment[key["SERVICE_".Length..]] = entry.Value as string;
        }

        info.Environment["Health__Port"] = healthPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        var process = Process.Start(info)!;
        // SERVICE_LOG_DIR: each service's output to a file of its own (timestamped), not to the console.
        var logFile = Environment.GetEnvironmentVariable("SERVICE_LOG_DIR") is { Length: > 0 } dir
            ? TextWriter.Synchronized(new StreamWriter(Path.Combine(dir, $"service-{healthPort}-{process.Id}.log")) { AutoFlush = true })
            : null;
        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);

        void Write(string? line)
        {
            if (line is null) return;
            logFile?.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");
            if (Verbose) Console.Error.WriteLine("  service: " + line);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited) throw new InvalidOperationException($"the service exited with {process.ExitCode}");
            try
            {
                if ((await http.GetAsync($"http://127.0.0.1:{healthPort}/health/ready")).IsSuccessStatusCode) return new ServiceProcess(process);
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        process.Kill(true);
        throw new TimeoutException("the service did not get ready within 60 s");
    }

    /// <summary>Peak resident memory (VmHWM) in MB.</summary>
    public double PeakRssMb
    {
        get
        {
            Sample();
            return _peakKb / 1024.0;
        }
    }

    public void Sample()
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    _peakKb = Math.Max(_peakKb, long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        catch (IOException)
        {
        }
    }

    /// <summary>kill -9: no shutdown, no acknowledgement, nothing flushed.</summary>
    public void KillHard()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        if (_process.HasExited) return;
        Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(true);
        }
    }
}
