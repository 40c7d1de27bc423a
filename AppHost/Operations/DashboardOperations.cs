using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting.ApplicationModel;

namespace AppHost.Operations;

/// <summary>
/// What an operator reaches from the dashboard: links to each service's own pages (API reference, OpenAPI document,
/// FastAPI's docs, the broker's management UI) and commands onto the Worker's operator API (<c>/v1/admin</c>, the
/// registry), each asking for confirmation first. Each call carries a token of the caller <c>dashboard</c> (scope
/// <c>admin</c> only, <see cref="ServiceIdentity.DashboardTokenAsync"/>), and the Worker audits it under that caller.
/// The commands exist in run mode only, as the dashboard's key does.
/// </summary>
public static class DashboardOperations
{
    public const string Actor = ServiceIdentity.DashboardCaller;
    public const string PauseJobsCommand = "pause-jobs";
    public const string ResumeJobsCommand = "resume-jobs";
    public const string ReplayDeadLettersCommand = "replay-dead-letters";
    public const string SwitchModelVersionCommand = "switch-model-version";

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>The gateway's Scalar API reference and OpenAPI document beside its endpoints.</summary>
    public static IResourceBuilder<ProjectResource> WithApiDocumentationLinks(this IResourceBuilder<ProjectResource> gateway)
    {
        var http = gateway.GetEndpoint("http");
        return gateway
            .WithUrl($"{http}/scalar", "API reference (Scalar)")
            .WithUrl($"{http}/openapi/v1.json", "OpenAPI document");
    }

    /// <summary>FastAPI's interactive docs of python-inference.</summary>
    public static IResourceBuilder<T> WithFastApiDocsLink<T>(this IResourceBuilder<T> python) where T : IResourceWithEndpoints =>
        python.WithUrl($"{python.GetEndpoint("http")}/docs", "API docs (FastAPI)");

    /// <summary>Pause and resume job processing, replay the dead-letter queue: the Worker's operator API.</summary>
    public static IResourceBuilder<ProjectResource> WithJobOperations(this IResourceBuilder<ProjectResource> worker,
        ServiceIdentity.CallerKeys keys)
    {
        if (keys.Dashboard?.Resource is not { } key)
        {
            return worker;
        }

        var http = worker.GetEndpoint("http");
        return worker
            .WithCommand(PauseJobsCommand, "Pause job processing",
                context => PostAsync(http, "/v1/admin/consumption/pause", key, Consumption, context.CancellationToken),
                new CommandOptions
                {
                    Description = "Every Worker replica stops taking jobs from the queue; submissions wait there.",
                    ConfirmationMessage = "Pause job processing on every Worker replica? Jobs in hand finish; new jobs wait in the queue until resumed.",
                    IconName = "Pause",
                })
            .WithCommand(ResumeJobsCommand, "Resume job processing",
                context => PostAsync(http, "/v1/admin/consumption/resume", key, Consumption, context.CancellationToken),
                new CommandOptions
                {
                    Description = "Every Worker replica takes jobs from the queue again.",
                    ConfirmationMessage = "Resume job processing on every Worker replica?",
                    IconName = "Play",
                })
            .WithCommand(ReplayDeadLettersCommand, "Replay dead-letter queue",
                context => PostAsync(http, "/v1/admin/dead-jobs/requeue", key, Requeued, context.CancellationToken),
                new CommandOptions
                {
                    Description = "Every job in jobs.dead goes back to the queue as queued, its attempts reset.",
                    ConfirmationMessage = "Put every job of the dead-letter queue back on the jobs queue? They are processed again from their first attempt.",
                    IconName = "ArrowRepeatAll",
                });
    }

    /// <summary>Make a registered version of a model the one python-inference serves (the Worker's registry).</summary>
    public static IResourceBuilder<T> WithModelVersionSwitch<T>(this IResourceBuilder<T> python, IResourceBuilder<ProjectResource> worker,
        ServiceIdentity.CallerKeys keys)
        where T : IResource
    {
        if (keys.Dashboard?.Resource is not { } key)
        {
            return python;
        }

        var http = worker.GetEndpoint("http");
        return python.WithCommand(SwitchModelVersionCommand, "Switch model version",
            async context =>
            {
                var model = context.Arguments.GetString("model")?.Trim();
                var version = context.Arguments.GetString("version")?.Trim();
                if (string.IsNullOrEmpty(model) || string.IsNullOrEmpty(version))
                {
                    return CommandResults.Failure("Both the model and the version are required.");
                }

                using var request = new HttpRequestMessage(HttpMethod.Put, new Uri($"{http.Url}/v1/registry/models/{Uri.EscapeDataString(model)}/active"))
                {
                    Content = JsonContent.Create(new { version }),
                };
                return await SendAsync(request, key, body => $"{model} now serves version {body.GetProperty("version").GetString()}.",
                    context.CancellationToken);
            },
            new CommandOptions
            {
                Description = "Activates a registered version (model.activated); every python-inference process switches to it.",
                ConfirmationMessage = "Switch the model to this version? Predictions are served by it from now on.",
                IconName = "ArrowSwap",
                Arguments =
                [
                    new InteractionInput { Name = "model", Label = "Model", InputType = InputType.Text, Required = true, Placeholder = "sentiment" },
                    new InteractionInput { Name = "version", Label = "Version", InputType = InputType.Text, Required = true, Placeholder = "2.0.0" },
                ],
            });
    }

    /// <summary>The broker's management UI, where the runtime enables it.</summary>
    public static IResourceBuilder<T> WithManagementUiLink<T>(this IResourceBuilder<T> broker, string endpointName)
        where T : IResourceWithEndpoints =>
        broker.WithUrlForEndpoint(endpointName, url => url.DisplayText = "Management UI");

    private static string Consumption(JsonElement state) =>
        state.GetProperty("paused").GetBoolean() ? "Job processing is paused on every replica." : "Job processing runs on every replica.";

    private static string Requeued(JsonElement report)
    {
        var requeued = report.GetProperty("requeued").GetArrayLength();
        var skipped = report.GetProperty("skipped").GetArrayLength();
        return $"{requeued} dead job(s) back on the queue" + (skipped > 0 ? $"; {skipped} message(s) left (see the Worker's log)." : ".");
    }

    // The Worker takes the actor from the token: a change carries no body.
    private static async Task<ExecuteCommandResult> PostAsync(EndpointReference worker, string path, ParameterResource key,
        Func<JsonElement, string> describe, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"{worker.Url}{path}"));
        return await SendAsync(request, key, describe, cancellationToken);
    }

    private static async Task<ExecuteCommandResult> SendAsync(HttpRequestMessage request, ParameterResource key,
        Func<JsonElement, string> describe, CancellationToken cancellationToken)
    {
        try
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer",
                await ServiceIdentity.DashboardTokenAsync(key, cancellationToken));
            using var response = await Http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
            return response.IsSuccessStatusCode
                ? CommandResults.Success(describe(body))
                : CommandResults.Failure(body.TryGetProperty("detail", out var detail) ? $"{(int)response.StatusCode}: {detail}"
                    : $"The Worker answered {(int)response.StatusCode}.");
        }
        catch (Exception exception) when (exception is HttpRequestException or JsonException
                                              or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return CommandResults.Failure($"The Worker did not answer: {exception.Message}");
        }
    }
}
