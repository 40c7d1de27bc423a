using System.ComponentModel.DataAnnotations;

namespace Gateway.Upstream.Inference.Batching;

/// <summary>
/// Dynamic batching of single-input predictions (section <c>Inference:Batching</c>): concurrent callers of one model
/// share one batch call to python-inference. <see cref="Models"/> overrides the size and wait of one model.
/// </summary>
public sealed class PredictionBatchingOptions : IValidatableObject
{
    public const string SectionName = InferenceOptions.SectionName + ":Batching";

    /// <summary>Off: every prediction is its own call to python-inference, as before batching existed.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Most inputs in one batch call (python-inference refuses more than its <c>MAX_BATCH_SIZE</c>, 100; such a refusal is retried in halves).</summary>
    [Range(1, 10_000)]
    public int MaxBatchSize { get; set; } = 64;

    /// <summary>How long the first caller of a batch waits for others; 0 sends whatever has queued at once.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:01")]
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>Callers waiting for a batch, per model; one more is refused at once with 503 and <c>Retry-After</c>.</summary>
    [Range(1, 1_000_000)]
    public int QueueLimit { get; set; } = 1024;

    /// <summary>
    /// How long the oldest waiting caller may have waited before new callers are refused at once (503, with
    /// <c>Retry-After</c>), however short the queue: a python-inference that has slowed down then has a moment of
    /// callers waiting for it, not a whole deadline's worth, each holding its request open until it times out. Long
    /// enough for a burst: 500 ms refused some of 1,000 concurrent predictions on a loaded 2-core machine.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan MaxQueueWait { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Batch calls of one model in flight at once; while all are busy, callers queue and the next batch grows.</summary>
    [Range(1, 256)]
    public int MaxConcurrentBatches { get; set; } = 4;

    /// <summary>What <c>Retry-After</c> says when the queue is full.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Per-model overrides, by model name.</summary>
    public Dictionary<string, ModelBatchingOptions> Models { get; set; } = [];

    /// <summary>The settings one model's batches follow.</summary>
    public ModelBatching For(string model) => Models.TryGetValue(model, out var own)
        ? new(own.Enabled ?? Enabled, own.MaxBatchSize ?? MaxBatchSize, own.MaxWait ?? MaxWait)
        : new(Enabled, MaxBatchSize, MaxWait);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var longestWait = Models.Values.Select(model => model.MaxWait ?? MaxWait).Append(MaxWait).Max();
        if (MaxQueueWait <= longestWait)
        {
            yield return new ValidationResult(
                $"{SectionName}:MaxQueueWait ({MaxQueueWait}) must be longer than the longest MaxWait ({longestWait}): " +
                "a batch's first caller waits that long on purpose.", [nameof(MaxQueueWait)]);
        }

        foreach (var (name, model) in Models)
        {
            var results = new List<ValidationResult>();
            if (!Validator.TryValidateObject(model, new ValidationContext(model), results, validateAllProperties: true))
            {
                foreach (var result in results)
                {
                    yield return new ValidationResult($"{SectionName}:Models:{name}: {result.ErrorMessage}", [nameof(Models)]);
                }
            }
        }
    }
}

/// <summary>One model's overrides of <see cref="PredictionBatchingOptions"/>; what is not set is inherited.</summary>
public sealed class ModelBatchingOptions
{
    public bool? Enabled { get; set; }

    [Range(1, 10_000)]
    public int? MaxBatchSize { get; set; }

    [Range(typeof(TimeSpan), "00:00:00", "00:00:01")]
    public TimeSpan? MaxWait { get; set; }
}

/// <summary>The settings of one model's batches, overrides applied.</summary>
public readonly record struct ModelBatching(bool Enabled, int MaxBatchSize, TimeSpan MaxWait);
