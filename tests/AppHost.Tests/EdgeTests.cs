using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Aspire.Hosting.Testing;

namespace AppHost.Tests;

/// <summary>The gateway's front door as a client meets it: addresses, TLS, tokens, ownership.</summary>
public sealed class EdgeTests(AppHostFixture stack)
{
    /// <summary>ASP.NET Core marks its development certificate with this extension.</summary>
    private const string DevelopmentCertificateOid = "1.3.6.1.4.1.311.84.1.1";

    /// <summary>A client that connects to <paramref name="address"/> whatever the URL's host says.</summary>
    private static HttpClient ClientFor(IPAddress address, RemoteCertificateValidationCallback? validate = null) =>
        new(new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = validate },
        })
        { Timeout = AppHostFixture.StepTimeout };

    private static bool IsTheDevelopmentCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        using var store = new X509Store(StoreName.My, StoreLocation.CurrentUser);
        store.Open(OpenFlags.ReadOnly);
        var development = store.Certificates.Where(c => c.Extensions[DevelopmentCertificateOid] is not null)
            .Select(c => c.Thumbprint).ToHashSet(StringComparer.OrdinalIgnoreCase);
        // Pinned to this machine's development certificate, whether or not the OS trusts it; the name must match.
        return certificate is X509Certificate2 served && development.Contains(served.Thumbprint)
            && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0;
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public async Task Gateway_answers_http_on_ipv4_and_ipv6_loopback(string loopback)
    {
        var address = IPAddress.Parse(loopback);
        var endpoint = stack.App.GetEndpoint("gateway", "http");
        using var client = ClientFor(address);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", stack.Tokens.Create());

        var response = await client.GetAsync(new Uri(endpoint, "/predict?text=lovely"), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public async Task Gateway_serves_https_with_the_development_certificate_on_both_loopbacks(string loopback)
    {
        var endpoint = stack.App.GetEndpoint("gateway", "https");
        Assert.Equal("https", endpoint.Scheme);
        using var client = ClientFor(IPAddress.Parse(loopback), IsTheDevelopmentCertificate);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", stack.Tokens.Create());

        var response = await client.GetAsync(new Uri($"https://localhost:{endpoint.Port}/predict?text=lovely"),
            TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_request_without_a_token_is_401_problem_with_a_challenge()
    {
        using var anonymous = stack.CreateGatewayClient(token: null);

        var response = await anonymous.GetAsync("/predict?text=lovely", TestContext.Current.CancellationToken);

        await Problems.AssertProblemAsync(response, HttpStatusCode.Unauthorized, "authentication_required");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task A_token_without_the_scope_is_403_problem()
    {
        using var jobsOnly = stack.CreateGatewayClient(stack.Tokens.Create(scopes: "jobs"));

        var response = await jobsOnly.GetAsync("/api/v1/models", TestContext.Current.CancellationToken);

        await Problems.AssertProblemAsync(response, HttpStatusCode.Forbidden, "insufficient_scope");
    }

    [Fact]
    public async Task A_job_is_invisible_to_another_subject()
    {
        using var alice = stack.CreateGatewayClient(stack.Tokens.Create(subject: "alice"));
        using var bob = stack.CreateGatewayClient(stack.Tokens.Create(subject: "bob"));
        var submitted = await alice.PostAsJsonAsync("/api/v1/jobs", new { model = "sentiment", inputs = new[] { "fine" } },
            TestContext.Current.CancellationToken);
        await Problems.AssertStatusAsync(submitted, HttpStatusCode.Accepted);

        var asBob = await bob.GetAsync(submitted.Headers.Location, TestContext.Current.CancellationToken);
        var asAlice = await alice.GetAsync(submitted.Headers.Location, TestContext.Current.CancellationToken);

        await Problems.AssertProblemAsync(asBob, HttpStatusCode.NotFound, "job_not_found");
        Assert.Equal(HttpStatusCode.OK, asAlice.StatusCode);
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413_problem_from_kestrel()
    {
        using var content = new StringContent($$"""{"model":"sentiment","inputs":["{{new string('x', 2 * 1024 * 1024)}}"]}""",
            System.Text.Encoding.UTF8, "application/json");

        var response = await stack.Gateway.PostAsync("/api/v1/predictions", content, TestContext.Current.CancellationToken);

        await Problems.AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
    }

    [Fact]
    public async Task The_worker_writes_the_same_problem_shape()
    {
        using var worker = stack.WorkerClient(await stack.ForGatewayAsync("nobody", "jobs"));

        var response = await worker.GetAsync($"/v1/jobs/{Guid.NewGuid()}", TestContext.Current.CancellationToken);

        await Problems.AssertProblemAsync(response, HttpStatusCode.NotFound, "job_not_found");
    }

    [Fact]
    public async Task Python_writes_the_same_problem_shape()
    {
        using var python = new HttpClient { BaseAddress = stack.App.GetEndpoint("python-inference", "http") };

        var response = await python.PostAsJsonAsync("/v1/predict", new { model = "sentiment", inputs = new object[] { 42 } },
            TestContext.Current.CancellationToken);

        var problem = await Problems.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("inputs[0]", out _));
    }
}
