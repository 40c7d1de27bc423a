using Microsoft.AspNetCore.Http.HttpResults;
using ServiceDefaults.Problems;
using Worker.Registry;

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
/// The model registry over HTTP/JSON (internal: the gateway and python-inference call it); the same operations and
/// outcomes as <c>registry.v1.ModelRegistry</c> over gRPC.
/// </summary>
public static class RegistryApi
{
    public static IEndpointRouteBuilder MapRegistryApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/registry").WithTags("Model registry");

        api.MapGet("/models/{name}/versions", ListAsync)
            .WithName("ListModelVersions")
            .WithSummary("A model's registered versions")
            .WithDescription("Oldest first, each with active true or false, and activeVersion; 404 model_not_found for an unknown model.");

        api.MapGet("/models/{name}/active", GetActiveAsync)
            .WithName("GetActiveModelVersion")
            .WithSummary("The version a model serves")
            .WithDescription("404 model_not_found for an unknown model.");

        api.MapPost("/versions", RegisterAsync)
            .WithName("RegisterModelVersion")
            .WithSummary("Register a model version")
            .WithDescription("201 for a new version (a model's first becomes active), 200 when the same artifact was registered " +
                             "under that version before, 409 registration_conflict for another artifact under it.");

        api.MapPut("/models/{name}/active", ActivateAsync)
            .WithName("ActivateModelVersion")
            .WithSummary("Make a registered version the active one")
            .WithDescription("Commits the change with a model.activated event; activating the active version changes and " +
                             "announces nothing. 404 model_not_found or model_version_not_found.");

        return app;
    }

    public static async Task<Results<Ok<ModelVersionList>, ProblemHttpResult>> ListAsync(
        string name, IModelRegistryStore store, CancellationToken cancellationToken) =>
        await store.ListAsync(name, cancellationToken) is { } list ? TypedResults.Ok(list) : ModelNotFound(name);

    public static async Task<Results<Ok<RegisteredVersion>, ProblemHttpResult>> GetActiveAsync(
        string name, IModelRegistryStore store, CancellationToken cancellationToken) =>
        await store.FindActiveAsync(name, cancellationToken) is { } active ? TypedResults.Ok(active) : ModelNotFound(name);

    public static async Task<Results<Created<RegisteredVersion>, Ok<RegisteredVersion>, ProblemHttpResult>> RegisterAsync(
        ModelVersionRegistration registration, IModelRegistryStore store, CancellationToken cancellationToken)
    {
        var candidate = registration.ToNewVersion();
        if (ModelVersionRules.Validate(candidate) is { Count: > 0 } errors)
        {
            return ProblemDetailsContract.Problem(StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
                "The model version is not valid.", errors: errors);
        }

        var outcome = await store.RegisterAsync(candidate, cancellationToken);
        return outcome.Status switch
        {
            RegistrationStatus.Created => TypedResults.Created(
                $"/api/registry/models/{Uri.EscapeDataString(candidate.Name)}/versions", outcome.Version),
            RegistrationStatus.AlreadyRegistered => TypedResults.Ok(outcome.Version),
            _ => ProblemDetailsContract.Problem(StatusCodes.Status409Conflict, ProblemCodes.RegistrationConflict,
                "The version is registered with another artifact.",
                $"{candidate.Name} {candidate.Version} is registered with another artifact; register a new version instead."),
        };
    }

    public static async Task<Results<Ok<RegisteredVersion>, ProblemHttpResult>> ActivateAsync(
        string name, ActivationRequest request, IModelRegistryStore store, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        ModelVersionRules.CheckName(errors, "version", request.Version);
        if (errors.Count > 0)
        {
            return ProblemDetailsContract.Problem(StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
                "The request is not valid.", errors: errors);
        }

        var activation = await store.ActivateAsync(name, request.Version!, cancellationToken);
        return activation switch
        {
            { Status: ActivationStatus.ModelNotFound } => ModelNotFound(name),
            { Status: ActivationStatus.VersionNotFound } => ProblemDetailsContract.Problem(StatusCodes.Status404NotFound,
                ProblemCodes.ModelVersionNotFound, "No such model version.", $"Model {name} has no version {request.Version}."),
            { Version: { } version } => TypedResults.Ok(version),
            _ => throw new InvalidOperationException("An activation that found its version returns it."),
        };
    }

    private static ProblemHttpResult ModelNotFound(string name) =>
        ProblemDetailsContract.Problem(StatusCodes.Status404NotFound, ProblemCodes.ModelNotFound,
            "No such model.", $"No model named {name} is registered.");
}
