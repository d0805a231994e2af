using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace FlashdutySync.Tests.Support;

/// <summary>Keeps every log line (message, exception, structured values) the service writes.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();

    /// <summary>The same lines with the time each was written (to tell a failure's story in order).</summary>
    public ConcurrentQueue<(DateTime At, string Line)> Timed { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(";", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
            var line = $"{logLevel} {category} [{eventId.Id}] {formatter(state, exception)} {values} {exception}";
            owner.Lines.Enqueue(line);
            owner.Timed.Enqueue((DateTime.UtcNow, line));
        }
    }
}
