using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Mvc;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// <c>inference.client.duration</c>: how long a call to python-inference took, per model and transport, from the
/// caller's side (the gateway's predictions, the Worker's jobs). python-inference records the model's own share as
/// <c>inference.model.duration</c>.
/// </summary>
public sealed class InferenceCallMetrics
{
    public const string DurationName = "inference.client.duration";

    private readonly Histogram<double> _duration;

    public InferenceCallMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(Telemetry.MeterName);
        _duration = meter.CreateHistogram(DurationName, unit: "s",
            description: "Duration of calls to python-inference, per model and transport.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Telemetry.DurationBuckets });
    }

    /// <summary>Starts timing one call; <see cref="TimedCall.Dispose"/> records it (with <c>error.type</c> if one was set).</summary>
    public TimedCall Start(string model, string transport) => new(this, model, transport, Stopwatch.GetTimestamp());

    public sealed class TimedCall(InferenceCallMetrics metrics, string model, string transport, long started) : IDisposable
    {
        private string? _errorType;

        /// <summary>The call failed: a problem code, a gRPC status or an exception's name.</summary>
        public void Failed(string errorType) => _errorType = errorType;

        /// <summary>The call failed with <paramref name="problem"/> (its <c>code</c>), if there is one.</summary>
        public void FailedWith(ProblemDetails? problem)
        {
            if (problem is not null)
            {
                _errorType = problem.Extensions.TryGetValue("code", out var code) && code?.ToString() is { Length: > 0 } text
                    ? text
                    : $"{problem.Status}";
            }
        }

        public void Dispose()
        {
            var tags = new TagList
            {
                { "model.name", model },
                { "inference.transport", transport },
            };
            if (_errorType is not null)
            {
                tags.Add("error.type", _errorType);
            }

            metrics._duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        }
    }
}
