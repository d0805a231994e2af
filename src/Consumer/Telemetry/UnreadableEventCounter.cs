using System.Runtime.Serialization;
using MassTransit;

namespace FlashdutySync.Telemetry;

/// <summary>
/// Counts the messages MassTransit itself moves to the error queue because they cannot be read as an event
/// (malformed JSON, a required field missing): <c>sync.events.set_aside</c> with reason <c>unreadable</c>. The
/// service's own reasons are counted where it sets an event aside.
/// </summary>
internal sealed class UnreadableEventCounter(SyncMetrics metrics) : IReceiveObserver
{
    public const string Reason = "unreadable";

    public Task ReceiveFault(ReceiveContext context, Exception exception)
    {
        // The deserializer throws it for a body that is not an event; MassTransit may wrap it.
        if (exception is SerializationException || exception.GetBaseException() is SerializationException) metrics.EventsSetAside.Add(1, new KeyValuePair<string, object?>("reason", Reason));
        return Task.CompletedTask;
    }

    public Task PreReceive(ReceiveContext context) => Task.CompletedTask;

    public Task PostReceive(ReceiveContext context) => Task.CompletedTask;

    public Task PostConsume<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType) where T : class => Task.CompletedTask;

    public Task ConsumeFault<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType, Exception exception) where T : class => Task.CompletedTask;
}
