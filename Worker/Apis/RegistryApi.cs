using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Worker.Problems;
using Worker.Registry;
using Worker.Security;

namespace Worker.Apis;

/// <summary>A version to register over HTTP/JSON; the same fields as the gRPC <c>ModelVersion</c>, camelCase.</summary>
public sealed record ModelVersionRegistration(
    string? Name, string? Version, string? InputKind, IReadOnlyList<string>? Labels,
    IReadOnlyDictionary<string, double>? Metrics, string? ArtifactSha256, string? Description, DateTimeOffset? CreatedAt)
{
    public NewModelVersion ToNewVersion() => new(Name ?? "", Version ?? "", InputKind ?? "", Labels ?? [], Metrics ?? new Dictionary<string, double>(),
        ArtifactSha256 ?? "", Description ?? "", CreatedAt);
}

public sealed record ActivationRequest(string? Version);

/// <summary>
/// The model registry over HTTP/JSON (internal: the gateway and python-inference call it): a translation of
/// <see cref="ModelRegistry"/>, the same use cases <c>registry.v1.ModelRegistry</c> serves over gRPC, with the same
/// scopes: listing <c>predict</c>, the active version <c>registry.read</c>, registering <c>registry.register</c>,
/// activating <c>admin</c>.
/// </summary>
public static class RegistryApi
{
    public static IEndpointRouteBuilder MapRegistryApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/registry").WithTags("Model registry");

        api.MapGet("/models/{name}/versions", ListAsync)
            .WithName("ListModelVersions")
            .RequireScope(WorkerScopes.Predict)
            .WithSummary("A model's registered versions")
            .WithDescription("Oldest first, each with active true or false, and activeVersion; 404 model_not_found for an unknown model.");

        api.MapGet("/models/{name}/active", GetActiveAsync)
            .WithName("GetActiveModelVersion")
            .RequireScope(WorkerScopes.RegistryRead)
            .WithSummary("The version a model serves")
            .WithDescription("404 model_not_found for an unknown model.");

        api.MapPost("/versions", RegisterAsync)
            .WithName("RegisterModelVersion")
            .RequireScope(WorkerScopes.RegistryRegister)
            .WithSummary("Register a model version")
            .WithDescription("201 for a new version (a model's first becomes active), 200 when the same artifact was registered " +
                             "under that version before, 409 registration_conflict for another artifact under it.");

        api.MapPut("/models/{name}/active", ActivateAsync)
            .WithName("ActivateModelVersion")
            .RequireScope(WorkerScopes.Admin)
            .WithSummary("Make a registered version the active one")
            .WithDescription("Commits the change with a model.activated event; activating the active version changes and " +
                             "announces nothing. 404 model_not_found or model_version_not_found.");

        return app;
    }

    public static async Task<Results<Ok<ModelVersionList>, ProblemHttpResult>> ListAsync(
        string name, ModelRegistry registry, CancellationToken cancellationToken)
    {
        var outcome = await registry.ListAsync(name, cancellationToken);
        return outcome.Succeeded ? TypedResults.Ok(outcome.Value) : outcome.ToProblemResult();
    }

    public static async Task<Results<Ok<RegisteredVersion>, ProblemHttpResult>> GetActiveAsync(
        string name, ModelRegistry registry, CancellationToken cancellationToken)
    {
        var outcome = await registry.GetActiveAsync(name, cancellationToken);
        return outcome.Succeeded ? TypedResults.Ok(outcome.Value) : outcome.ToProblemResult();
    }

    public static async Task<Results<Created<RegisteredVersion>, Ok<RegisteredVersion>, ProblemHttpResult>> RegisterAsync(
        ModelVersionRegistration registration, ClaimsPrincipal user, ModelRegistry registry, CancellationToken cancellationToken)
    {
        var outcome = await registry.RegisterAsync(registration.ToNewVersion(), Caller.Of(user), cancellationToken);
        if (!outcome.Succeeded)
        {
            return outcome.ToProblemResult();
        }

        var (status, version) = outcome.Value;
        return status == RegistrationStatus.Created
            ? TypedResults.Created($"/v1/registry/models/{Uri.EscapeDataString(version.Name)}/versions", version)
            : TypedResults.Ok(version);
    }

    public static async Task<Results<Ok<RegisteredVersion>, ProblemHttpResult>> ActivateAsync(
        string name, ActivationRequest request, ClaimsPrincipal user, ModelRegistry registry, CancellationToken cancellationToken)
    {
        var outcome = await registry.ActivateAsync(name, request.Version, Caller.Of(user), cancellationToken);
        return outcome.Succeeded ? TypedResults.Ok(outcome.Value) : outcome.ToProblemResult();
    }
}
