using k8s.Models;

namespace AppHost.Deployment;

/// <summary>
/// Readiness (/health: every check) and liveness (/alive: the process answers) on the service's HTTP port, with a
/// start-up allowance for model loading; a gRPC-only service is asked the grpc.health.v1 question instead, and the
/// broker and database their own tools' questions.
/// </summary>
internal static class Probes
{
    public static void Apply(V1Container container, Workload workload)
    {
        if (workload.HealthPort is { } port)
        {
            container.StartupProbe = Http("/alive", port, periodSeconds: 5, failureThreshold: 36);
            container.ReadinessProbe = Http("/health", port, periodSeconds: 10, failureThreshold: 3);
            container.LivenessProbe = Http("/alive", port, periodSeconds: 10, failureThreshold: 6);
        }
        else if (workload.Ports.FirstOrDefault(candidate => candidate.Http2) is { } grpc)
        {
            container.ReadinessProbe = new V1Probe { Grpc = new V1GRPCAction { Port = grpc.Number }, PeriodSeconds = 10 };
            container.LivenessProbe = new V1Probe { Grpc = new V1GRPCAction { Port = grpc.Number }, PeriodSeconds = 10, FailureThreshold = 6 };
        }
        else if (workload.Image.Contains("postgres", StringComparison.OrdinalIgnoreCase))
        {
            container.ReadinessProbe = Exec(["pg_isready", "-U", "postgres", "-h", "127.0.0.1"], periodSeconds: 10);
            container.LivenessProbe = Exec(["pg_isready", "-U", "postgres", "-h", "127.0.0.1"], periodSeconds: 30);
        }
        else if (workload.Image.Contains("rabbitmq", StringComparison.OrdinalIgnoreCase))
        {
            container.ReadinessProbe = Exec(["rabbitmq-diagnostics", "-q", "check_port_connectivity"], periodSeconds: 30);
            container.LivenessProbe = Exec(["rabbitmq-diagnostics", "-q", "ping"], periodSeconds: 60);
            // Each probe starts an Erlang VM. Its schedulers busy-wait by default (the server's do not), and on a busy
            // or throttled CPU they spin for the time the one doing the work needs: on two busy cores a call took
            // 12-20 s with them and under 3 s without, against the probes' 20 s limit.
            container.Env =
            [
                .. container.Env ?? [],
                new V1EnvVar { Name = "RABBITMQ_CTL_ERL_ARGS", Value = "+sbwt none +sbwtdcpu none +sbwtdio none" },
            ];
        }
        else if (workload.Ports.FirstOrDefault() is { } first)
        {
            container.ReadinessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = first.Name }, PeriodSeconds = 10 };
            container.LivenessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = first.Name }, PeriodSeconds = 30 };
        }
    }

    private static V1Probe Http(string path, string port, int periodSeconds, int failureThreshold) => new()
    {
        HttpGet = new V1HTTPGetAction { Path = path, Port = port },
        PeriodSeconds = periodSeconds,
        TimeoutSeconds = 3,
        FailureThreshold = failureThreshold,
    };

    private static V1Probe Exec(List<string> command, int periodSeconds) => new()
    {
        Exec = new V1ExecAction { Command = command },
        PeriodSeconds = periodSeconds,
        TimeoutSeconds = 20,
        FailureThreshold = 3,
    };
}
