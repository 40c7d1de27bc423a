using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using Gateway.Application;
using Gateway.Upstream;
using Microsoft.Extensions.Logging.Abstractions;
using Polly.Timeout;

namespace Gateway.Tests.Upstream;

public sealed class UpstreamCallsTests
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private sealed record Answer(string Label);

    private sealed class ScriptedHandler(Func<HttpRequestMessage, HttpResponseMessage> respond) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(respond(request));
    }

    private static Task<Outcome<Answer>> CallAsync(Func<HttpRequestMessage, HttpResponseMessage> respond)
    {
        var client = new HttpClient(new ScriptedHandler(respond)) { BaseAddress = new Uri("http://upstream") };
        return UpstreamCalls.SendAsync<Answer>(client, new HttpRequestMessage(HttpMethod.Get, "/x"), Json, "python-inference",
            NullLogger.Instance, TestContext.Current.CancellationToken);
    }

    private static HttpResponseMessage Problem(HttpStatusCode status, string body) => new(status)
    {
        Content = new StringContent(body, Encoding.UTF8, "application/problem+json"),
    };

    [Fact]
    public async Task Success_returns_the_value()
    {
        var result = await CallAsync(_ => new HttpResponseMessage(HttpStatusCode.OK) { Content = JsonContent.Create(new { label = "positive" }) });

        Assert.Equal("positive", result.Value?.Label);
        Assert.Null(result.Problem);
    }

    [Fact]
    public async Task Upstream_4xx_problem_passes_through_without_its_trace_id_and_instance()
    {
        var result = await CallAsync(_ => Problem(HttpStatusCode.NotFound,
            """{"type":"urn:problem:model_not_found","title":"Unknown model","status":404,"code":"model_not_found","traceId":"aaaa","instance":"/v1/predict"}"""));

        Assert.NotNull(result.Problem);
        Assert.Equal(404, result.Problem.Status);
        Assert.Equal("Unknown model", result.Problem.Title);
        Assert.Equal("model_not_found", result.Problem.Extensions["code"]?.ToString());
        Assert.False(result.Problem.Extensions.ContainsKey("traceId"));
        Assert.Null(result.Problem.Instance);
    }

    [Fact]
    public async Task Upstream_500_becomes_502_upstream_error_without_its_details()
    {
        var result = await CallAsync(_ => Problem(HttpStatusCode.InternalServerError,
            """{"title":"KeyError in model.py line 12","status":500,"code":"internal_error"}"""));

        Assert.Equal(502, result.Problem?.Status);
        Assert.Equal("upstream_error", result.Problem?.Extensions["code"]?.ToString());
        Assert.DoesNotContain("KeyError", result.Problem?.Title, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refused_connection_is_503_upstream_unavailable()
    {
        var result = await CallAsync(_ => throw new HttpRequestException("refused", new SocketException((int)SocketError.ConnectionRefused)));

        Assert.Equal(503, result.Problem?.Status);
        Assert.Equal("upstream_unavailable", result.Problem?.Extensions["code"]?.ToString());
    }

    [Fact]
    public async Task Timeout_is_504_upstream_timeout()
    {
        var result = await CallAsync(_ => throw new TimeoutRejectedException());

        Assert.Equal(504, result.Problem?.Status);
        Assert.Equal("upstream_timeout", result.Problem?.Extensions["code"]?.ToString());
    }

    [Fact]
    public async Task Unreadable_success_body_is_502()
    {
        var result = await CallAsync(_ => new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StringContent("<html>", Encoding.UTF8, "application/json"),
        });

        Assert.Equal(502, result.Problem?.Status);
    }

    [Fact]
    public async Task Upstream_error_without_a_problem_body_keeps_its_4xx_status()
    {
        var result = await CallAsync(_ => new HttpResponseMessage(HttpStatusCode.Conflict) { Content = new StringContent("nope") });

        Assert.Equal(409, result.Problem?.Status);
    }

    /// <summary>A body that breaks off after a few bytes, as the socket handler's stream does when the upstream process dies mid-answer.</summary>
    private sealed class BrokenOffStream() : MemoryStream("{\"lab"u8.ToArray())
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await base.ReadAsync(buffer, cancellationToken);
            return read > 0 ? read : throw new HttpIOException(HttpRequestError.ResponseEnded, "The response ended prematurely.");
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    [Theory]
    [InlineData(HttpStatusCode.OK, "application/json")]
    [InlineData(HttpStatusCode.Conflict, "application/problem+json")]
    public async Task An_answer_that_breaks_off_after_its_headers_is_503_upstream_unavailable(HttpStatusCode status, string contentType)
    {
        // A Worker replica killed while it answered: the status line came, the body did not (CI saw this as a 500).
        var result = await CallAsync(_ => new HttpResponseMessage(status)
        {
            Content = new StreamContent(new BrokenOffStream()) { Headers = { ContentType = new(contentType) } },
        });

        Assert.Equal(503, result.Problem?.Status);
        Assert.Equal("upstream_unavailable", result.Problem?.Extensions["code"]?.ToString());
    }
}
