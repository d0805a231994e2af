using System.Security.Cryptography;

namespace Flashduty.Simulator;

/// <summary>Request ids shaped like Flashduty's (a ULID: 26 Crockford base-32 characters, time first).</summary>
internal static class RequestIds
{
    private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    public static string New(DateTimeOffset now)
    {
        Span<char> chars = stackalloc char[26];
        var ms = now.ToUnixTimeMilliseconds();
        for (var i = 9; i >= 0; i--)
        {
            chars[i] = Alphabet[(int)(ms & 31)];
            ms >>= 5;
        }

        Span<byte> random = stackalloc byte[16];
        RandomNumberGenerator.Fill(random);
        for (var i = 10; i < 26; i++)
        {
            chars[i] = Alphabet[random[i - 10] & 31];
        }

        return new string(chars);
    }
}
