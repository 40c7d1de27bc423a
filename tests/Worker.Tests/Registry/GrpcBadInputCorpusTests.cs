using Grpc.Net.Client;
using Tests.Contracts;
using Worker.Tests.Security;

namespace Worker.Tests.Registry;

/// <summary>
/// The Worker's gRPC face (registry.v1) against the bad-input corpus's <c>worker-grpc</c> cases, in process (the real
/// Worker, its authentication and gRPC pipeline): undecodable and oversized messages, wrong types, missing, malformed
/// and forged tokens, a missing scope — each a proper status with its <c>problem-code</c>, never INTERNAL or UNKNOWN.
/// The same cases run against the real stack in tests/AppHost.Tests/BadInputCorpusTests.cs.
/// </summary>
public sealed class GrpcBadInputCorpusTests(CallerAuthenticationTests.WorkerHost worker)
    : IClassFixture<CallerAuthenticationTests.WorkerHost>
{
    [Fact]
    public async Task Every_malformed_call_to_the_workers_grpc_face_gets_its_status_and_code()
    {
        worker.Grpc(out var channel);
        using (channel)
        {
            var failures = await BadInputCorpus.RunGrpcAsync(channel.CreateCallInvoker(), "worker-grpc", TokenFor,
                TestContext.Current.CancellationToken);

            Assert.True(failures.Count == 0, $"{failures.Count} case(s) answered otherwise:\n{string.Join('\n', failures)}");
        }
    }

    /// <summary>A corpus case's <c>auth</c>: <c>python-inference</c>, <c>gateway &lt;scopes&gt;</c> or <c>forged &lt;caller&gt;</c>.</summary>
    private static string TokenFor(string auth) => auth.Split(' ', 2) switch
    {
        ["python-inference"] => ServiceTokens.Python(),
        ["gateway", var scopes] => ServiceTokens.Gateway("corpus-user", scopes),
        ["forged", var caller] => ServiceTokens.Create(caller, "not-the-callers-key-0123456789abcdef", caller, "registry.read registry.register"),
        _ => throw new ArgumentException($"no token for '{auth}'", nameof(auth)),
    };
}
