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
        var invoker = channel.CreateCallInvoker();
        var bytes = Marshallers.Create(value => value, value => value);
        var failures = new List<string>();
        foreach (var @case in BadInputCorpus.Cases.Where(c => c.Target == "python-inference-grpc"))
        {
            var path = @case.Json.GetProperty("method").GetString()!.TrimStart('/').Split('/');
            var method = new Method<byte[], byte[]>(MethodType.Unary, path[0], path[1], bytes, bytes);
            var expected = Enum.Parse<StatusCode>(@case.Expect.GetProperty("grpcStatus").GetString()!);
            var code = @case.Expect.GetProperty("code").GetString();
            try
            {
                await invoker.AsyncUnaryCall(method, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: Token),
                    @case.Json.GetProperty("messageBase64").GetBytesFromBase64());
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

        AssertNoFailures(failures);
    }
}
