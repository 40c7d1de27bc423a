using System.ComponentModel.DataAnnotations;

namespace Gateway.Upstream.Inference;

/// <summary>How the gateway reaches python-inference (section <c>Inference</c>).</summary>
public sealed class InferenceOptions
{
    public const string SectionName = "Inference";

    /// <summary>
    /// How predictions and the model list reach python-inference: gRPC by default, which costs python-inference's one
    /// event loop less per call than HTTP/JSON (docs/performance.md, "The gateway's transport"); HTTP/JSON gives the
    /// same answers and problems.
    /// </summary>
    public InferenceTransport Transport { get; set; } = InferenceTransport.Grpc;

    /// <summary>Service-discovery address of python-inference's HTTP/JSON API.</summary>
    [Required]
    public Uri BaseAddress { get; set; } = new("https+http://python-inference");

    /// <summary>
    /// Service-discovery address of its gRPC endpoint (the endpoint named <c>grpc</c>, HTTP/2 cleartext), or a
    /// <c>dns:///host:port</c> address whose every resolved address gets calls in turn (a Kubernetes publish sets one).
    /// </summary>
    [Required]
    public Uri GrpcAddress { get; set; } = new("http://_grpc.python-inference");

    /// <summary>The model <c>GET /predict?text=</c> uses.</summary>
    [Required]
    public string DefaultModel { get; set; } = "sentiment";

    [Range(1, 10_000)]
    public int MaxBatchSize { get; set; } = 100;

    /// <summary>Longest text input, in characters (python-inference enforces its own limit as well).</summary>
    [Range(1, 1_000_000)]
    public int MaxTextLength { get; set; } = 5000;

    /// <summary>One attempt over HTTP; over gRPC, the deadline of each call (retries of UNAVAILABLE included).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromSeconds(30);

    [Range(0, 10)]
    public int MaxRetryAttempts { get; set; } = 2;

    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);
}

public enum InferenceTransport
{
    Http,
    Grpc,
}
