using Aspire.Hosting.Testing;
using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Microsoft.IdentityModel.Tokens;

namespace AppHost.Tests;

/// <summary>
/// The Worker's callers as the tests play them: tokens signed with the keys the AppHost generated for this run (its
/// secret parameters), as the gateway and python-inference sign theirs, plus the variants a caller must not get away with.
/// </summary>
public static class WorkerTokens
{
    public const string PythonScopes = "registry.register registry.read";

    /// <summary>A token of the gateway acting for <paramref name="user"/>.</summary>
    public static async Task<string> ForGatewayAsync(this AppHostFixture stack, string user, string scope) =>
        Create("gateway", await stack.ParameterValueAsync("worker-token-key-gateway", TestContext.Current.CancellationToken),
            user, scope);

    /// <summary>A token of python-inference.</summary>
    public static async Task<string> ForPythonAsync(this AppHostFixture stack, string scope = PythonScopes) =>
        Create("python-inference",
            await stack.ParameterValueAsync("worker-token-key-python-inference", TestContext.Current.CancellationToken),
            "python-inference", scope);

    /// <summary>
    /// The token for a bad-input corpus case's <c>auth</c> (tests/corpus/bad-input.json): <c>python-inference</c>,
    /// <c>gateway &lt;scopes&gt;</c> (acting for a corpus user) or <c>forged &lt;caller&gt;</c> (signed with another key).
    /// </summary>
    public static string CorpusToken(string auth, string pythonToken, string gatewayKey) => auth.Split(' ', 2) switch
    {
        ["python-inference"] => pythonToken,
        ["gateway", var scopes] => Create("gateway", gatewayKey, "corpus-user", scopes),
        ["forged", var caller] => Create(caller, "not-the-callers-key-0123456789abcdef", caller, PythonScopes),
        _ => throw new ArgumentException($"no token for '{auth}'", nameof(auth)),
    };

    /// <summary>A client of the Worker (through Aspire's proxy, or one replica's own <paramref name="address"/>) sending <paramref name="token"/>.</summary>
    public static HttpClient WorkerClient(this AppHostFixture stack, string? token, Uri? address = null)
    {
        var client = new HttpClient { BaseAddress = address ?? stack.App.GetEndpoint("worker", "http"), Timeout = AppHostFixture.StepTimeout };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    /// <summary>A reader of the Worker's audit log: the gateway for an admin.</summary>
    public static async Task<HttpClient> AuditReaderAsync(this AppHostFixture stack) =>
        stack.WorkerClient(await stack.ForGatewayAsync("e2e-auditor", "admin"));

    public static Metadata Bearer(string token) => [new("authorization", $"Bearer {token}")];

    /// <summary>A JWT written out by hand, so a test can send any variant: HS256 or HS512 over the UTF-8 key.</summary>
    public static string Create(string issuer, string key, string subject, string scope, DateTimeOffset? issuedAt = null,
        TimeSpan? lifetime = null, string algorithm = "HS256")
    {
        var now = (issuedAt ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        var payload = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["iss"] = issuer, ["aud"] = "worker", ["sub"] = subject, ["scope"] = scope, ["iat"] = now, ["nbf"] = now,
            ["exp"] = now + (long)(lifetime ?? TimeSpan.FromMinutes(1)).TotalSeconds,
        });
        var unsigned = Encode($$"""{"alg":"{{algorithm}}","typ":"JWT"}""") + "." + Encode(payload);
        var bytes = Encoding.ASCII.GetBytes(unsigned);
        var signature = algorithm == "HS512"
            ? HMACSHA512.HashData(Encoding.UTF8.GetBytes(key), bytes)
            : HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), bytes);
        return unsigned + "." + Base64UrlEncoder.Encode(signature);
    }

    private static string Encode(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));
}
