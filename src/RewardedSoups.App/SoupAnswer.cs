using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace RewardedSoups.App;

/// <summary>
/// A soup as answered: the showcase's JSON object as computed or cached (<paramref name="Body"/>),
/// and, added as its last two fields, whether it came from the cache and the server time it took.
/// The body is written as it is, never parsed again: a cached answer costs a file read.
/// </summary>
public sealed record SoupAnswer(byte[] Body, bool Cached, double ServerMs) : IResult
{
    public async Task ExecuteAsync(HttpContext context)
    {
        int end = Array.LastIndexOf(Body, (byte)'}');
        if (end < 0) throw new InvalidOperationException("a soup's body is not a JSON object");
        bool empty = Body.AsSpan(0, end).TrimEnd(" \t\r\n"u8).EndsWith("{"u8);
        byte[] tail = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"{(empty ? "" : ",")}\"cached\":{(Cached ? "true" : "false")},\"serverMs\":{ServerMs:R}}}"));
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength = end + tail.Length;
        await context.Response.Body.WriteAsync(Body.AsMemory(0, end), context.RequestAborted);
        await context.Response.Body.WriteAsync(tail, context.RequestAborted);
    }
}
