using System.ComponentModel.DataAnnotations;

namespace Worker.Inference;

/// <summary>How the Worker reaches python-inference (section <c>Inference</c>).</summary>
public sealed class InferenceOptions
{
    public const string SectionName = "Inference";

    /// <summary>How jobs reach python-inference.</summary>
    public InferenceTransport Transport { get; set; } = InferenceTransport.Grpc;

    /// <summary>Service-discovery address of python-inference's HTTP/JSON API.</summary>
    [Required]
    public Uri BaseAddress { get; set; } = new("https+http://python-inference");

    /// <summary>One call's time limit; a batch of up to 1,000 inputs takes well under a second.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Service-discovery address of its gRPC endpoint (the endpoint named <c>grpc</c>, HTTP/2 cleartext), or a
    /// <c>dns:///host:port</c> address whose every resolved address gets calls in turn (a Kubernetes publish sets one).
    /// </summary>
    [Required]
    public Uri GrpcAddress { get; set; } = new("http://_grpc.python-inference");

    /// <summary>Deadline of one gRPC call for a whole job (retries of UNAVAILABLE included).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long a batch of jobs waits for an unreachable python-inference (nothing listens, or it is not ready) to
    /// return, calling again every <see cref="UnreachableProbeInterval"/>, before its attempt counts as failed and the
    /// retry schedule takes over. The deliveries stay unacknowledged meanwhile. Zero: no waiting.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan UnreachableWait { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How often a waiting batch calls python-inference again to notice its return.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:00:30")]
    public TimeSpan UnreachableProbeInterval { get; set; } = TimeSpan.FromMilliseconds(500);
}

public enum InferenceTransport
{
    Http,
    Grpc,
}
