using System.Text;

namespace FlashdutySync.Messaging;

internal static class Headers
{
    /// <summary>A header as text: AMQP carries strings as bytes, MassTransit sometimes as strings.</summary>
    public static string? Text(MassTransit.Headers headers, string key) =>
        headers.TryGetHeader(key, out var value) ? value switch
        {
            string s => s,
            byte[] bytes => Encoding.UTF8.GetString(bytes),
            null => null,
            _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture),
        } : null;
}
