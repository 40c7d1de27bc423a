using System.Net.Http.Headers;
using System.Text;
using Gateway.Extensions;
using Gateway.Rpc;
using Gateway.Tests.Hosting;
using Gateway.Upstream.Inference;
using Gateway.Upstream.Worker;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Gateway.Tests.Rpc;

/// <summary>
/// The gateway as Program.cs builds it (its services, edge and scope policies) plus <c>POST /rpc</c>, on a test
/// server, with bearer tokens from <see cref="TestTokens"/> and the upstream clients replaced by fakes.
/// </summary>
internal sealed class JsonRpcTestHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private JsonRpcTestHost(WebApplication app, FakeInferenceClient inference, FakeJobsClient jobs) =>
        (_app, Client, Inference, Jobs) = (app, app.GetTestClient(), inference, jobs);

    public HttpClient Client { get; }

    public FakeInferenceClient Inference { get; }

    public FakeJobsClient Jobs { get; }

    /// <param name="methods">The method table to serve instead of the gateway's own.</param>
    /// <param name="settings">Configuration on top of the defaults, e.g. <c>JsonRpc:MaxBatchSize</c>.</param>
    public static async Task<JsonRpcTestHost> StartAsync(
        JsonRpcMethodTable? methods = null, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Development });
        builder.WebHost.UseTestServer();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Authentication:Schemes:Bearer:ValidIssuer"] = TestTokens.Issuer,
            ["Authentication:Schemes:Bearer:ValidAudiences:0"] = TestTokens.Audience,
            ["Authentication:Schemes:Bearer:SigningKeys:0:Issuer"] = TestTokens.Issuer,
            ["Authentication:Schemes:Bearer:SigningKeys:0:Value"] = TestTokens.SigningKey,
            ["WorkerAuth:SigningKey"] = GatewayFactory.WorkerTokenKey,
        });
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());
        builder.AddBasicServiceDefaults();
        builder.AddApplicationServices();

        var inference = new FakeInferenceClient();
        var jobs = new FakeJobsClient();
        builder.Services.AddSingleton<IInferenceClient>(inference);
        builder.Services.AddSingleton<IJobsClient>(jobs);
        if (methods is not null)
        {
            builder.Services.AddSingleton(methods);
        }

        var app = builder.Build();
        app.UseGatewayEdge();
        app.MapApiDocumentation();
        app.MapJsonRpcApi();
        await app.StartAsync(TestContext.Current.CancellationToken);
        return new JsonRpcTestHost(app, inference, jobs);
    }

    /// <summary>
    /// Posts a body to <c>/rpc</c> with a token for <paramref name="subject"/> holding <paramref name="scopes"/>,
    /// or with no token when <paramref name="scopes"/> is null.
    /// </summary>
    public Task<HttpResponseMessage> PostAsync(string body, string? scopes = "predict jobs", string subject = "alice",
        string contentType = "application/json")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, JsonRpcApi.Path)
        {
            Content = new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue(contentType)),
        };
        if (scopes is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TestTokens.Create(subject, scopes));
        }

        return Client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    /// <summary>Posts a body that must be answered with 200 and a JSON body, and returns that body.</summary>
    public async Task<JsonElement> CallAsync(string body, string scopes = "predict jobs", string subject = "alice")
    {
        using var response = await PostAsync(body, scopes, subject);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.DisposeAsync();
    }
}
