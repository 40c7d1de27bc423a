using System.Security.Claims;
using Gateway.Application;
using Gateway.Limits;
using Gateway.RateLimiting;
using Gateway.Security;
using Gateway.Upstream.Worker;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Gateway.Apis;

/// <summary>The model registry through the gateway: reading versions (predict) and choosing the served one (admin).</summary>
public static class ModelRegistryApi
{
    public static IEndpointRouteBuilder MapModelRegistryApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/models").WithTags("Model registry");

        api.MapGet("/{name}/versions", ListVersionsAsync)
            .WithName("ListModelVersions")
            .WithSummary("List a model's registered versions")
            .WithDescription("Every version registered for the model, oldest first, each with its labels, metrics and artifact " +
                             "hash; activeVersion and each version's active flag say which one is served, and the active one's " +
                             "activatedAt and activatedBy (service and user) when and by whom it was made active. Scope: predict.")
            .RequireScope(Scopes.Predict, RateLimitingOptions.Predict)
            .LimitsUpstreamConcurrency(UpstreamService.WorkerReads)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapPut("/{name}/active", ActivateAsync)
            .WithName("ActivateModelVersion")
            .WithSummary("Choose the version a model serves")
            .WithDescription("Makes a registered version the active one and publishes model.activated; answers with that " +
                             "version. Activating the active version again changes nothing. 404 for an unknown model " +
                             "(model_not_found) or version (model_version_not_found). Scope: admin.")
            .RequireScope(Scopes.Admin, RateLimitingOptions.Admin)
            .LimitsUpstreamConcurrency(UpstreamService.Worker)
            .Accepts<ActivationRequest>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        return app;
    }

    public static async Task<Results<Ok<ModelVersionList>, ProblemHttpResult>> ListVersionsAsync(
        string name, ClaimsPrincipal user, ModelRegistryService registry, CancellationToken cancellationToken) =>
        (await registry.ListVersionsAsync(name, user, cancellationToken)).ToOk();

    public static async Task<Results<Ok<ModelVersionView>, ProblemHttpResult>> ActivateAsync(
        string name, ActivationRequest request, ClaimsPrincipal user, ModelRegistryService registry,
        CancellationToken cancellationToken) =>
        (await registry.ActivateAsync(name, request, user, cancellationToken)).ToOk();
}
