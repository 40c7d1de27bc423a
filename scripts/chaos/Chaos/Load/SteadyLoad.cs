using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Chaos.Verdict;

namespace Chaos.Load;

/// <summary>
/// Open-loop load on the gateway: predictions, job submissions and job reads, each at its own rate whatever the
/// answers take (a slow or dead service does not slow the load down, as real callers do not wait for each other).
/// Each stream has its own connections, so a stalled route cannot queue another's requests in the driver.
/// Every request becomes a <see cref="RequestSample"/>; every 202 an accepted job id.
/// </summary>
public sealed class SteadyLoad : IDisposable
{
    /// <summary>The driver's own limit on one request: past it the request counts as not answered.</summary>
    public static readonly TimeSpan RequestLimit = TimeSpan.FromSeconds(30);

    private const int MaxInFlightPerStream = 4000;

    private static readonly string[] Sentences =
    [
        "The staff were lovely and the room was spotless.",
        "It broke after two days and nobody answered my emails.",
        "A fine, ordinary stay; nothing to write home about.",
        "Absolutely wonderful service from start to finish.",
    ];

    private readonly HttpClient _predict;
    private readonly HttpClient _jobs;
    private readonly HttpClient _reads;
    private readonly ConcurrentQueue<RequestSample> _samples = new();
    private readonly ConcurrentQueue<(Guid Id, DateTimeOffset At)> _accepted = new();
    private readonly List<Guid> _recent = [];
    private int _unanswered;
    private int _skipped;

    public SteadyLoad(Uri gateway, string predictToken, string jobsToken)
    {
        _predict = Client(gateway, predictToken);
        _jobs = Client(gateway, jobsToken);
        _reads = Client(gateway, jobsToken);
    }

    public double PredictionsPerSecond { get; set; }
    public double JobsPerSecond { get; set; }
    public double ReadsPerSecond { get; set; }

    public IReadOnlyCollection<RequestSample> Samples => _samples;

    public IEnumerable<(Guid Id, DateTimeOffset At)> Accepted => _accepted;

    /// <summary>Submissions that got no answer (each may or may not have become a job).</summary>
    public int Unanswered => Volatile.Read(ref _unanswered);

    /// <summary>Requests the driver did not send because too many of its stream were in flight.</summary>
    public int Skipped => Volatile.Read(ref _skipped);

    public static HttpClient Client(Uri gateway, string token)
    {
        var client = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = MaxInFlightPerStream,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        })
        {
            BaseAddress = gateway,
            Timeout = RequestLimit,
        };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>Runs every stream until <paramref name="cancellationToken"/>, then waits for what is in flight.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(
            PaceAsync(() => PredictionsPerSecond, PredictAsync, cancellationToken),
            PaceAsync(() => JobsPerSecond, SubmitAsync, cancellationToken),
            PaceAsync(() => ReadsPerSecond, ReadAsync, cancellationToken));
    }

    private async Task PaceAsync(Func<double> rate, Func<long, Task> send, CancellationToken cancellationToken)
    {
        var running = new ConcurrentDictionary<long, Task>();
        var clock = Stopwatch.StartNew();
        double owed = 0;
        var last = clock.Elapsed;
        long sequence = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var now = clock.Elapsed;
                owed += rate() * (now - last).TotalSeconds;
                last = now;
                for (; owed >= 1; owed--)
                {
                    if (running.Count >= MaxInFlightPerStream)
                    {
                        Interlocked.Increment(ref _skipped);
                        continue;
                    }

                    var n = Interlocked.Increment(ref sequence);
                    var task = send(n);
                    running[n] = task;
                    _ = task.ContinueWith(_ => running.TryRemove(n, out Task? _), TaskScheduler.Default);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        await Task.WhenAll(running.Values);
    }

    private Task PredictAsync(long n) =>
        SendAsync(_predict, Routes.Predict, () => new HttpRequestMessage(HttpMethod.Get,
            $"/predict?text={Uri.EscapeDataString(Sentences[n % Sentences.Length])}"), null);

    private Task SubmitAsync(long n) =>
        SendAsync(_jobs, Routes.SubmitJob, () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/jobs")
            {
                Content = JsonContent.Create(new { model = "sentiment", inputs = new[] { $"Review {n}: {Sentences[n % Sentences.Length]}" } }),
            };
            request.Headers.Add("Idempotency-Key", $"chaos-{Guid.NewGuid():N}");
            return request;
        }, async response =>
        {
            if (response.StatusCode == System.Net.HttpStatusCode.Accepted)
            {
                var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
                _accepted.Enqueue((id, DateTimeOffset.UtcNow));
                lock (_recent)
                {
                    _recent.Add(id);
                    if (_recent.Count > 256)
                    {
                        _recent.RemoveRange(0, 128);
                    }
                }
            }
        }, countUnanswered: true);

    private Task ReadAsync(long n)
    {
        Guid id;
        lock (_recent)
        {
            if (_recent.Count == 0)
            {
                return Task.CompletedTask;
            }

            id = _recent[(int)(n % _recent.Count)];
        }

        return SendAsync(_reads, Routes.ReadJob, () => new HttpRequestMessage(HttpMethod.Get, $"/api/v1/jobs/{id}"), null);
    }

    private async Task SendAsync(HttpClient client, string route, Func<HttpRequestMessage> create,
        Func<HttpResponseMessage, Task>? onAnswer, bool countUnanswered = false)
    {
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        try
        {
            using var request = create();
            using var response = await client.SendAsync(request);
            var (code, detail) = (int)response.StatusCode >= 400 ? await ProblemOfAsync(response) : (null, null);
            if (onAnswer is not null)
            {
                await onAnswer(response);
            }

            _samples.Enqueue(new RequestSample(route, started, clock.Elapsed, (int)response.StatusCode, code,
                (int)response.StatusCode >= 500 ? detail : null));
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or JsonException)
        {
            if (countUnanswered)
            {
                Interlocked.Increment(ref _unanswered);
            }

            _samples.Enqueue(RequestSample.NoAnswer(route, started, clock.Elapsed, exception));
        }
    }

    /// <summary>
    /// The problem's <c>code</c> (or the content type when the answer is not a problem with one) and its <c>detail</c>,
    /// interned: thousands of answers share a handful of details.
    /// </summary>
    private static async Task<(string? Code, string? Detail)> ProblemOfAsync(HttpResponseMessage response)
    {
        var type = response.Content.Headers.ContentType?.MediaType;
        if (type != "application/problem+json")
        {
            return ($"not a problem ({type ?? "no body"})", null);
        }

        try
        {
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            var code = problem.TryGetProperty("code", out var c) ? c.GetString() : "problem without code";
            var detail = problem.TryGetProperty("detail", out var d) && d.GetString() is { } text ? string.Intern(text) : null;
            return (code, detail);
        }
        catch (JsonException)
        {
            return ("unreadable problem", null);
        }
    }

    /// <summary>
    /// Closed-loop: <paramref name="connections"/> callers, each going through <paramref name="mix"/> back to back (a job
    /// submission, a read of the latest job, then predictions), as one subject; what was answered, and the jobs it left
    /// unfinished.
    /// </summary>
    public static async Task<MixMeasurement> SaturationAsync(Uri gateway, string token, LoadMix mix, int connections, TimeSpan duration)
    {
        using var client = Client(gateway, token);
        using var stop = new CancellationTokenSource(duration);
        int predictions = 0, jobs = 0, reads = 0;
        StrongBox<Guid>? latest = null; // a reference, so callers on other threads never see half a Guid
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async caller =>
        {
            for (var n = mix.FirstRequestOf(caller, connections); !stop.IsCancellationRequested; n++)
            {
                var route = mix.RouteOf(n);
                try
                {
                    if (route == Routes.SubmitJob)
                    {
                        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/jobs")
                        {
                            Content = JsonContent.Create(new { model = "sentiment", inputs = new[] { $"Saturation {caller}/{n}: {Sentences[n % Sentences.Length]}" } }),
                        };
                        request.Headers.Add("Idempotency-Key", $"chaos-saturation-{Guid.NewGuid():N}");
                        using var response = await client.SendAsync(request, stop.Token);
                        if (response.StatusCode == System.Net.HttpStatusCode.Accepted)
                        {
                            latest = new((await response.Content.ReadFromJsonAsync<JsonElement>(stop.Token)).GetProperty("id").GetGuid());
                            Interlocked.Increment(ref jobs);
                        }
                    }
                    else if (route == Routes.ReadJob)
                    {
                        if (latest is { } id)
                        {
                            using var response = await client.GetAsync($"/api/v1/jobs/{id.Value}", stop.Token);
                            if (response.IsSuccessStatusCode)
                            {
                                Interlocked.Increment(ref reads);
                            }
                        }
                    }
                    else
                    {
                        using var response = await client.GetAsync($"/predict?text={Uri.EscapeDataString(Sentences[(caller + n) % Sentences.Length])}", stop.Token);
                        if (response.IsSuccessStatusCode)
                        {
                            Interlocked.Increment(ref predictions);
                        }
                    }
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or JsonException)
                {
                }
            }
        }));

        // The Worker's share: the jobs accepted in the window that it had not finished by its end.
        var unfinished = 0;
        using var lookUp = Client(gateway, token);
        foreach (var status in new[] { "queued", "running" })
        {
            string? page = null;
            do
            {
                var listing = await lookUp.GetFromJsonAsync<JsonElement>(
                    $"/api/v1/jobs?pageSize=100&status={status}{(page is null ? "" : $"&pageToken={page}")}");
                unfinished += listing.GetProperty("items").GetArrayLength();
                page = listing.GetProperty("nextPageToken").GetString();
            }
            while (page is not null);
        }

        return new MixMeasurement(predictions, jobs, reads, Math.Min(unfinished, jobs), duration);
    }

    public void Dispose()
    {
        _predict.Dispose();
        _jobs.Dispose();
        _reads.Dispose();
    }
}
