using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using ServiceDefaults.Problems;
using RegistryV1 = global::Registry.V1;

namespace Worker.Registry;

/// <summary>
/// <c>registry.v1.ModelRegistry</c> (protos/registry/v1/registry.proto), called by python-inference. Unknown
/// models and versions are NOT_FOUND, a second artifact under a registered version FAILED_PRECONDITION, bad input
/// INVALID_ARGUMENT with a <c>google.rpc.BadRequest</c>; the <c>problem-code</c> trailer carries the HTTP API's code.
/// </summary>
internal sealed partial class ModelRegistryService(IModelRegistryStore store, ILogger<ModelRegistryService> logger)
    : RegistryV1.ModelRegistry.ModelRegistryBase
{
    public override async Task<RegistryV1.ModelVersion> RegisterVersion(RegistryV1.RegisterVersionRequest request,
        ServerCallContext context)
    {
        var candidate = ToNewVersion(request.Version ?? new RegistryV1.ModelVersion());
        if (ModelVersionRules.Validate(candidate) is { Count: > 0 } errors)
        {
            throw InvalidArgument(errors, "version.");
        }

        var registration = await store.RegisterAsync(candidate, context.CancellationToken);
        if (registration.Status == RegistrationStatus.Conflict)
        {
            throw Failure(StatusCode.FailedPrecondition, ProblemCodes.RegistrationConflict,
                $"{candidate.Name} {candidate.Version} is registered with another artifact; register a new version instead.");
        }

        if (registration.Status == RegistrationStatus.Created)
        {
            LogRegistered(logger, candidate.Name, candidate.Version, registration.Version.Active);
        }

        return ToMessage(registration.Version);
    }

    public override async Task<RegistryV1.ListVersionsResponse> ListVersions(RegistryV1.ListVersionsRequest request,
        ServerCallContext context)
    {
        ValidateName(request.Name);
        var list = await store.ListAsync(request.Name, context.CancellationToken) ?? throw ModelNotFound(request.Name);
        var response = new RegistryV1.ListVersionsResponse();
        response.Versions.AddRange(list.Versions.Select(ToMessage));
        return response;
    }

    public override async Task<RegistryV1.ModelVersion> GetActiveVersion(RegistryV1.GetActiveVersionRequest request,
        ServerCallContext context)
    {
        ValidateName(request.Name);
        return await store.FindActiveAsync(request.Name, context.CancellationToken) is { } active
            ? ToMessage(active)
            : throw ModelNotFound(request.Name);
    }

    public override async Task<RegistryV1.ModelVersion> ActivateVersion(RegistryV1.ActivateVersionRequest request,
        ServerCallContext context)
    {
        var errors = new Dictionary<string, string[]>();
        ModelVersionRules.CheckName(errors, "name", request.Name);
        ModelVersionRules.CheckName(errors, "version", request.Version);
        if (errors.Count > 0)
        {
            throw InvalidArgument(errors, prefix: "");
        }

        var activation = await store.ActivateAsync(request.Name, request.Version, context.CancellationToken);
        return activation switch
        {
            { Status: ActivationStatus.ModelNotFound } => throw ModelNotFound(request.Name),
            { Status: ActivationStatus.VersionNotFound } => throw Failure(StatusCode.NotFound, ProblemCodes.ModelVersionNotFound,
                $"Model {request.Name} has no version {request.Version}."),
            { Version: { } version } => ToMessage(version),
            _ => throw new InvalidOperationException("An activation that found its version returns it."),
        };
    }

    private static void ValidateName(string name)
    {
        var errors = new Dictionary<string, string[]>();
        ModelVersionRules.CheckName(errors, "name", name);
        if (errors.Count > 0)
        {
            throw InvalidArgument(errors, prefix: "");
        }
    }

    internal static NewModelVersion ToNewVersion(RegistryV1.ModelVersion message) => new(
        message.Name,
        message.Version,
        message.InputKind,
        [.. message.Labels],
        message.Metrics.ToDictionary(metric => metric.Key, metric => metric.Value),
        message.ArtifactSha256,
        message.Description,
        message.CreatedAt?.ToDateTimeOffset());

    internal static RegistryV1.ModelVersion ToMessage(RegisteredVersion version)
    {
        var message = new RegistryV1.ModelVersion
        {
            Name = version.Name,
            Version = version.Version,
            InputKind = version.InputKind,
            ArtifactSha256 = version.ArtifactSha256,
            Description = version.Description,
            CreatedAt = version.CreatedAt is { } created ? Timestamp.FromDateTimeOffset(created) : null,
            RegisteredAt = Timestamp.FromDateTimeOffset(version.RegisteredAt),
            Active = version.Active,
        };
        message.Labels.AddRange(version.Labels);
        message.Metrics.Add(version.Metrics.ToDictionary());
        return message;
    }

    private static RpcException ModelNotFound(string name) =>
        Failure(StatusCode.NotFound, ProblemCodes.ModelNotFound, $"No model named {name} is registered.");

    private static RpcException Failure(StatusCode code, string problemCode, string detail) =>
        new(new Status(code, detail), new Metadata { { "problem-code", problemCode } });

    /// <summary>INVALID_ARGUMENT with one field violation per field, named as in the proto (snake_case).</summary>
    private static RpcException InvalidArgument(Dictionary<string, string[]> errors, string prefix)
    {
        var badRequest = new Google.Rpc.BadRequest();
        badRequest.FieldViolations.AddRange(errors.SelectMany(error => error.Value.Select(message =>
            new Google.Rpc.BadRequest.Types.FieldViolation { Field = prefix + SnakeCase(error.Key), Description = message })));
        var detail = $"The request has {errors.Count} invalid field{(errors.Count == 1 ? "" : "s")}: " +
                     $"{string.Join(", ", errors.Keys.Select(key => prefix + SnakeCase(key)))}.";
        var status = new Google.Rpc.Status
        {
            Code = (int)StatusCode.InvalidArgument,
            Message = detail,
            Details = { Any.Pack(badRequest) },
        };
        var exception = status.ToRpcException();
        exception.Trailers.Add("problem-code", ProblemCodes.ValidationFailed);
        return exception;
    }

    private static string SnakeCase(string camelCase) => string.Concat(camelCase.Select((c, i) =>
        char.IsUpper(c) ? (i > 0 ? "_" : "") + char.ToLowerInvariant(c) : c.ToString()));

    [LoggerMessage(Level = LogLevel.Information, Message = "Registered model {Model} version {Version} (active: {Active}).")]
    private static partial void LogRegistered(ILogger logger, string model, string version, bool active);
}
