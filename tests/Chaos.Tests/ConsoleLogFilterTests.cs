namespace Chaos.Tests;

/// <summary>The run keeps the services' warnings and errors, as Aspire collects their console lines, and not their info.</summary>
public sealed class ConsoleLogFilterTests
{
    private const string At = "2026-12-06T15:26:25.2450000Z ";

    [Fact]
    public void A_warning_is_kept_with_its_indented_lines_and_an_info_entry_is_dropped_with_its()
    {
        string[] lines =
        [
            At + "\u001b[40m\u001b[32minfo\u001b[39m\u001b[22m\u001b[49m: Gateway.Requests.RequestLoggingMiddleware[1]",
            At + "      GET /predict 200 in 3 ms",
            At + "\u001b[40m\u001b[1m\u001b[33mwarn\u001b[39m\u001b[22m\u001b[49m: Gateway.Upstream.Inference.GrpcInferenceClient[1163169178]",
            At + "      Upstream python-inference answered gRPC status Cancelled.",
            At + "      Grpc.Core.RpcException: Status(StatusCode=\"Cancelled\", Detail=\"CANCELLED\")",
            At + "fail: Microsoft.AspNetCore.Server.Kestrel[13]",
            At + "      Connection id \"0HN\", Request id \"0HN:1\": An unhandled exception was thrown by the application.",
            At + "dbug: Microsoft.AspNetCore.Server.Kestrel.Connections[39]",
            At + "      Connection id \"0HN\" accepted.",
        ];

        Assert.Equal([false, false, true, true, true, true, true, false, false], Filter(lines));
    }

    [Fact]
    public void Lines_of_programs_without_net_levels_are_kept()
    {
        string[] lines =
        [
            At + "info: Gateway.Requests.RequestLoggingMiddleware[1]",
            At + "INFO:     127.0.0.1:49526 - \"GET /health HTTP/1.1\" 200 OK",
            At + "2026-12-06 15:24:50.795258+00:00 [info] <0.223.0> Feature flags: list of feature flags found:",
            At + "[sys] Starting process...: Cmd = /work/main/python-inference/.venv/bin/python",
        ];

        Assert.Equal([false, true, true, true], Filter(lines));
    }

    private static bool[] Filter(IEnumerable<string> lines)
    {
        var kept = true;
        return lines.Select(line => kept = ConsoleLogFilter.Keeps(line, kept)).ToArray();
    }
}
