using System.Diagnostics;
using MassTransit;

namespace FlashdutySync.Messaging;

internal static class MessageTrace
{
    /// <summary>
    /// The context the message was published under: MassTransit's <c>MT-Activity-Id</c>, or the W3C
    /// <c>traceparent</c> header a plain-JSON publisher sets.
    /// </summary>
    public static ActivityContext CreationContext(ReceiveContext message)
    {
        var headers = message.TransportHeaders;
        var parent = Headers.Text(headers, "traceparent") ?? Headers.Text(headers, "MT-Activity-Id");
        return parent is not null && ActivityContext.TryParse(parent, Headers.Text(headers, "tracestate"), out var context) ? context : default;
    }
}
