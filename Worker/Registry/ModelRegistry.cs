using ServiceDefaults.Problems;
using Worker.Problems;
using Worker.Security;

namespace Worker.Registry;

/// <summary>
/// The model registry's use cases, whichever face asks (<c>registry.v1</c> over gRPC, <c>/v1/registry</c> over
/// HTTP/JSON): check the request against <see cref="ModelVersionRules"/>, read or write through the store (which
/// commits an activation together with its <c>model.activated</c> event), and answer with the result or a problem.
/// </summary>
public sealed partial class ModelRegistry(IModelRegistryStore store, ILogger<ModelRegistry> logger)
{
    /// <summary>A new version (a model's first becomes active), the same one registered before, or a conflict.</summary>
    public async Task<Outcome<Registration>> RegisterAsync(NewModelVersion candidate, Caller by, CancellationToken cancellationToken)
    {
        if (ModelVersionRules.Validate(candidate) is { Count: > 0 } errors)
        {
            return Invalid("The model version is not valid.", errors);
        }

        var registration = await store.RegisterAsync(candidate, by, cancellationToken);
        if (registration.Status == RegistrationStatus.Conflict)
        {
            return Outcome.Problem(StatusCodes.Status409Conflict, ProblemCodes.RegistrationConflict,
                "The version is registered with another artifact.",
                $"{candidate.Name} {candidate.Version} is registered with another artifact; register a new version instead.");
        }

        if (registration.Status == RegistrationStatus.Created)
        {
            LogRegistered(logger, candidate.Name, candidate.Version, registration.Version.Active);
        }

        return registration;
    }

    /// <summary>Every version of the model, oldest first.</summary>
    public async Task<Outcome<ModelVersionList>> ListAsync(string? name, CancellationToken cancellationToken)
    {
        if (NameErrors(("name", name)) is { Count: > 0 } errors)
        {
            return Invalid("The request is not valid.", errors);
        }

        return await store.ListAsync(name!, cancellationToken) is { } list ? list : ModelNotFound(name!);
    }

    /// <summary>The version the model serves.</summary>
    public async Task<Outcome<RegisteredVersion>> GetActiveAsync(string? name, CancellationToken cancellationToken)
    {
        if (NameErrors(("name", name)) is { Count: > 0 } errors)
        {
            return Invalid("The request is not valid.", errors);
        }

        return await store.FindActiveAsync(name!, cancellationToken) is { } active ? active : ModelNotFound(name!);
    }

    /// <summary>
    /// Makes a registered version the active one, recording who did (<paramref name="by"/>); activating the active
    /// version changes and announces nothing.
    /// </summary>
    public async Task<Outcome<RegisteredVersion>> ActivateAsync(string? name, string? version, Caller by,
        CancellationToken cancellationToken)
    {
        if (NameErrors(("name", name), ("version", version)) is { Count: > 0 } errors)
        {
            return Invalid("The request is not valid.", errors);
        }

        var activation = await store.ActivateAsync(name!, version!, by, cancellationToken);
        return activation switch
        {
            { Status: ActivationStatus.ModelNotFound } => ModelNotFound(name!),
            { Status: ActivationStatus.VersionNotFound } => Outcome.Problem(StatusCodes.Status404NotFound,
                ProblemCodes.ModelVersionNotFound, "No such model version.", $"Model {name} has no version {version}."),
            { Version: { } activated } => activated,
            _ => throw new InvalidOperationException("An activation that found its version returns it."),
        };
    }

    private static Dictionary<string, string[]> NameErrors(params (string Field, string? Value)[] names)
    {
        var errors = new Dictionary<string, string[]>();
        foreach (var (field, value) in names)
        {
            ModelVersionRules.CheckName(errors, field, value);
        }

        return errors;
    }

    private static Microsoft.AspNetCore.Mvc.ProblemDetails Invalid(string title, Dictionary<string, string[]> errors) =>
        Outcome.Problem(StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed, title, errors: errors);

    private static Microsoft.AspNetCore.Mvc.ProblemDetails ModelNotFound(string name) =>
        Outcome.Problem(StatusCodes.Status404NotFound, ProblemCodes.ModelNotFound, "No such model.",
            $"No model named {name} is registered.");

    [LoggerMessage(Level = LogLevel.Information, Message = "Registered model {Model} version {Version} (active: {Active}).")]
    private static partial void LogRegistered(ILogger logger, string model, string version, bool active);
}
