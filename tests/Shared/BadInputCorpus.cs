using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Grpc.Core;

namespace Tests.Contracts;

/// <summary>
/// The bad-input corpus (<c>tests/corpus/bad-input.json</c>): malformed requests and the 4xx answer each must get.
/// <see cref="RunAsync"/> sends the cases of some targets and returns one line per case that answered otherwise, so a
/// test reports every failing case at once.
/// </summary>
public static class BadInputCorpus
{
    public sealed record CorpusCase(JsonElement Json)
    {
        public string Name => Json.GetProperty("name").GetString()!;

        public string Target => Json.GetProperty("target").GetString()!;

        public bool RealStackOnly => Json.TryGetProperty("realStackOnly", out var only) && only.GetBoolean();

        public JsonElement Expect => Json.GetProperty("expect");

        public override string ToString() => Name;
    }

    public static IReadOnlyList<CorpusCase> Cases { get; } = Load();

    private static List<CorpusCase> Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "bad-input.json");
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        return [.. document.RootElement.GetProperty("cases").EnumerateArray().Select(c => new CorpusCase(c.Clone()))];
    }

    /// <summary>The request of an HTTP case; <paramref name="token"/> makes a bearer token for the case's scopes.</summary>
    public static HttpRequestMessage RequestOf(CorpusCase @case, Func<string, string> token)
    {
        var json = @case.Json;
        var path = json.GetProperty("path").GetString()!;
        if (json.TryGetProperty("pathRepeat", out var pathRepeat))
        {
            path += new StringBuilder().Insert(0, pathRepeat.GetProperty("repeat").GetString(), pathRepeat.GetProperty("times").GetInt32());
        }

        var request = new HttpRequestMessage(new HttpMethod(json.GetProperty("method").GetString()!), new Uri(path, UriKind.Relative));
        var body = BodyOf(json);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(json.GetProperty("contentType").GetString()!);
            // A server may refuse an oversized body from its length and close the connection while the rest is still
            // being sent; asking before sending it (as a careful client does) makes the refusal the answer, not a
            // broken upload.
            request.Headers.ExpectContinue = body.Length > 64 * 1024;
        }

        if (json.TryGetProperty("auth", out var scopes))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token(scopes.GetString()!));
        }

        if (json.TryGetProperty("headerFields", out var fields))
        {
            for (var i = 0; i < fields.GetProperty("count").GetInt32(); i++)
            {
                request.Headers.TryAddWithoutValidation($"{fields.GetProperty("prefix").GetString()}{i}", fields.GetProperty("value").GetString());
            }
        }

        if (json.TryGetProperty("headers", out var headers))
        {
            foreach (var header in headers.EnumerateObject())
            {
                var value = header.Value.ValueKind == JsonValueKind.String
                    ? header.Value.GetString()!
                    : new string(header.Value.GetProperty("repeat").GetString()![0], header.Value.GetProperty("times").GetInt32());
                request.Headers.Remove(header.Name);
                request.Headers.TryAddWithoutValidation(header.Name, value);
            }
        }

        return request;
    }

    public static byte[]? BodyOf(JsonElement json)
    {
        if (json.TryGetProperty("body", out var text))
        {
            return Encoding.UTF8.GetBytes(text.GetString()!);
        }

        if (json.TryGetProperty("bodyBase64", out var raw))
        {
            return raw.GetBytesFromBase64();
        }

        if (json.TryGetProperty("bodyRepeat", out var repeat))
        {
            var builder = new StringBuilder(repeat.GetProperty("prefix").GetString());
            builder.Insert(builder.Length, repeat.GetProperty("repeat").GetString(), repeat.GetProperty("times").GetInt32());
            builder.Append(repeat.GetProperty("suffix").GetString());
            return Encoding.UTF8.GetBytes(builder.ToString());
        }

        return null;
    }

    /// <summary>Why the answer to an HTTP case is not the one expected, or null when it is.</summary>
    public static async Task<string?> CheckAsync(CorpusCase @case, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var expect = @case.Expect;
        var status = expect.GetProperty("status").GetInt32();
        var code = expect.GetProperty("code").GetString();
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var shown = text.Length > 300 ? text[..300] + "…" : text;
        if ((int)response.StatusCode != status)
        {
            return $"{@case.Name}: expected {status}, got {(int)response.StatusCode}: {shown}";
        }

        try
        {
            using var body = JsonDocument.Parse(text);
            if (expect.TryGetProperty("rpcError", out var rpcError))
            {
                var error = body.RootElement.GetProperty("error");
                var actual = (error.GetProperty("code").GetInt32(), error.GetProperty("data").GetProperty("code").GetString());
                return actual == (rpcError.GetInt32(), code) ? null
                    : $"{@case.Name}: expected JSON-RPC error {rpcError.GetInt32()} {code}, got {actual.Item1} {actual.Item2}: {shown}";
            }

            if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
            {
                return $"{@case.Name}: expected a problem, got {response.Content.Headers.ContentType}: {shown}";
            }

            var actualCode = body.RootElement.GetProperty("code").GetString();
            return actualCode == code ? null : $"{@case.Name}: expected code {code}, got {actualCode}: {shown}";
        }
        catch (Exception exception) when (exception is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return $"{@case.Name}: the answer is not what a {status} {code} looks like ({exception.Message}): {shown}";
        }
    }

    /// <summary>Sends every HTTP case of <paramref name="target"/> through <paramref name="client"/>; the failures.</summary>
    public static async Task<List<string>> RunHttpAsync(HttpClient client, string target, bool inProcess,
        Func<string, string, string> token, CancellationToken cancellationToken)
    {
        var failures = new List<string>();
        var number = 0;
        foreach (var @case in Cases.Where(c => c.Target == target && !(inProcess && c.RealStackOnly)))
        {
            // A subject per case, so the rate limits of one case never decide another's answer.
            var subject = $"corpus-{number++}";
            using var request = RequestOf(@case, scopes => token(subject, scopes));
            try
            {
                using var response = await client.SendAsync(request, cancellationToken);
                if (await CheckAsync(@case, response, cancellationToken) is { } failure)
                {
                    failures.Add(failure);
                }
            }
            catch (HttpRequestException exception)
            {
                failures.Add($"{@case.Name}: no answer ({exception.Message})");
            }
        }

        return failures;
    }

    /// <summary>
    /// The message of a gRPC case: <c>messageBase64</c>, or <c>messageStringField</c> (one length-delimited field of
    /// <c>length</c> bytes of 'a', for oversized messages).
    /// </summary>
    public static byte[] MessageOf(CorpusCase @case)
    {
        if (!@case.Json.TryGetProperty("messageStringField", out var field))
        {
            return @case.Json.GetProperty("messageBase64").GetBytesFromBase64();
        }

        var length = field.GetProperty("length").GetInt32();
        var message = new List<byte> { (byte)(field.GetProperty("field").GetInt32() << 3 | 2) };
        for (var rest = (uint)length; ; rest >>= 7)
        {
            if (rest < 0x80)
            {
                message.Add((byte)rest);
                break;
            }

            message.Add((byte)(rest & 0x7F | 0x80));
        }

        message.AddRange(Enumerable.Repeat((byte)'a', length));
        return [.. message];
    }

    /// <summary>
    /// Sends every gRPC case of <paramref name="target"/> (unary, raw bytes) and returns the failures: a call that
    /// succeeded, or whose status or <c>problem-code</c> trailer differs from the expected. <paramref name="token"/>
    /// turns a case's <c>auth</c> into the bearer token sent; <c>auth</c> <c>raw:&lt;value&gt;</c> sends the value as
    /// the <c>authorization</c> metadata itself; without <c>auth</c> nothing is sent.
    /// </summary>
    public static async Task<List<string>> RunGrpcAsync(CallInvoker invoker, string target, Func<string, string>? token,
        CancellationToken cancellationToken)
    {
        var bytes = Marshallers.Create(value => value, value => value);
        var failures = new List<string>();
        foreach (var @case in Cases.Where(c => c.Target == target))
        {
            var path = @case.Json.GetProperty("method").GetString()!.TrimStart('/').Split('/');
            var method = new Method<byte[], byte[]>(MethodType.Unary, path[0], path[1], bytes, bytes);
            var expected = Enum.Parse<StatusCode>(@case.Expect.GetProperty("grpcStatus").GetString()!);
            var code = @case.Expect.GetProperty("code").GetString();
            var headers = new Metadata();
            if (@case.Json.TryGetProperty("auth", out var auth) && auth.GetString() is { } caller)
            {
                headers.Add("authorization", caller.StartsWith("raw:", StringComparison.Ordinal)
                    ? caller["raw:".Length..]
                    : $"Bearer {token!(caller)}");
            }

            try
            {
                await invoker.AsyncUnaryCall(method, null, new CallOptions(headers, DateTime.UtcNow.AddSeconds(30), cancellationToken),
                    MessageOf(@case));
                failures.Add($"{@case.Name}: expected {expected}, the call succeeded");
            }
            catch (RpcException exception) when (exception.StatusCode != expected || exception.Trailers.GetValue("problem-code") != code)
            {
                failures.Add($"{@case.Name}: expected {expected} {code}, got {exception.StatusCode} " +
                             $"{exception.Trailers.GetValue("problem-code")}: {exception.Status.Detail}");
            }
            catch (RpcException)
            {
                // the expected status and code
            }
        }

        return failures;
    }
}
