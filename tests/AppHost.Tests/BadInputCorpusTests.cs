using Aspire.Hosting.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Tests.Contracts;

namespace AppHost.Tests;

/// <summary>
/// The whole bad-input corpus (tests/corpus/bad-input.json) against the real stack: the gateway's REST and JSON-RPC
/// doors, python-inference's own HTTP and gRPC endpoints. Every malformed request gets its 4xx answer (or
/// INVALID_ARGUMENT-like status) with a stable code, never a 5xx; each test reports every failing case at once.
/// </summary>
public sealed class BadInputCorpusTests(AppHostFixture stack)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static void AssertNoFailures(List<string> failures) =>
        Assert.True(failures.Count == 0, $"{failures.Count} case(s) answered otherwise:\n{string.Join('\n', failures)}");

    [Fact]
    public async Task Every_malformed_request_to_the_gateway_gets_its_4xx_answer()
    {
        using var client = stack.CreateGatewayClient(token: null);

        AssertNoFailures(await BadInputCorpus.RunHttpAsync(client, "gateway", inProcess: false,
            (subject, scopes) => stack.Tokens.Create(subject, scopes), Token));
    }

    [Fact]
    public async Task Every_malformed_request_to_python_inference_over_http_gets_its_4xx_answer()
    {
        using var client = new HttpClient { BaseAddress = stack.App.GetEndpoint("python-inference", "http"), Timeout = AppHostFixture.StepTimeout };

        AssertNoFailures(await BadInputCorpus.RunHttpAsync(client, "python-inference", inProcess: false,
            (_, _) => throw new InvalidOperationException("python-inference takes no tokens"), Token));
    }

    [Fact]
    public async Task Every_malformed_request_to_python_inference_over_grpc_gets_its_status_and_code()
    {
        using var channel = GrpcChannel.ForAddress(stack.App.GetEndpoint("python-inference", "grpc"));

        AssertNoFailures(await BadInputCorpus.RunGrpcAsync(channel.CreateCallInvoker(), "python-inference-grpc", null, Token));
    }

    [Fact]
    public async Task Every_malformed_call_to_the_workers_grpc_face_gets_its_status_and_code()
    {
        using var channel = GrpcChannel.ForAddress(stack.App.GetEndpoint("worker", "grpc"));
        var (python, gatewayKey) = (await stack.ForPythonAsync(),
            await stack.ParameterValueAsync("worker-token-key-gateway", Token));

        AssertNoFailures(await BadInputCorpus.RunGrpcAsync(channel.CreateCallInvoker(), "worker-grpc",
            caller => WorkerTokens.CorpusToken(caller, python, gatewayKey), Token));
    }
}
