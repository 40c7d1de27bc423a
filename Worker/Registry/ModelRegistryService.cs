using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using ServiceDefaults.Problems;
using Worker.Problems;
using Worker.Security;
using RegistryV1 = global::Registry.V1;

namespace Worker.Registry;

/// <summary>
/// <c>registry.v1.ModelRegistry</c> (protos/registry/v1/registry.proto), called by python-inference: a translation
/// of the proto messages onto <see cref="ModelRegistry"/>. Unknown models and versions are NOT_FOUND, a second
/// artifact under a registered version FAILED_PRECONDITION, bad input INVALID_ARGUMENT with a
/// <c>google.rpc.BadRequest</c>; the <c>problem-code</c> trailer carries the HTTP API's code. Each method needs the
/// scope its HTTP twin needs; a refused caller gets UNAUTHENTICATED or PERMISSION_DENIED (<see cref="CallerProblems"/>).
/// </summary>
internal sealed class ModelRegistryService(ModelRegistry registry) : RegistryV1.ModelRegistry.ModelRegistryBase
{
    [Authorize(Policy = WorkerScopes.RegistryRegister)]
    public override async Task<RegistryV1.ModelVersion> RegisterVersion(RegistryV1.RegisterVersionRequest request,
        ServerCallContext context)
    {
        var candidate = ToNewVersion(request.Version ?? new RegistryV1.ModelVersion());
        var outcome = await registry.RegisterAsync(candidate, Caller.Of(context.GetHttpContext().User), context.CancellationToken);
        // The version's fields are nested in the request, so its violations are named version.<field>.
        return outcome.Succeeded ? ToMessage(outcome.Value.Version) : throw ToRpcException(outcome.Problem, fieldPrefix: "version.");
    }

    [Authorize(Policy = WorkerScopes.Predict)]
    public override async Task<RegistryV1.ListVersionsResponse> ListVersions(RegistryV1.ListVersionsRequest request,
        ServerCallContext context)
    {
        var outcome = await registry.ListAsync(request.Name, context.CancellationToken);
        if (!outcome.Succeeded)
        {
            throw ToRpcException(outcome.Problem);
        }

        var response = new RegistryV1.ListVersionsResponse();
        response.Versions.AddRange(outcome.Value.Versions.Select(ToMessage));
        return response;
    }

    [Authorize(Policy = WorkerScopes.RegistryRead)]
    public override async Task<RegistryV1.ModelVersion> GetActiveVersion(RegistryV1.GetActiveVersionRequest request,
        ServerCallContext context)
    {
        var outcome = await registry.GetActiveAsync(request.Name, context.CancellationToken);
        return outcome.Succeeded ? ToMessage(outcome.Value) : throw ToRpcException(outcome.Problem);
    }

    [Authorize(Policy = WorkerScopes.Admin)]
    public override async Task<RegistryV1.ModelVersion> ActivateVersion(RegistryV1.ActivateVersionRequest request,
        ServerCallContext context)
    {
        var outcome = await registry.ActivateAsync(request.Name, request.Version, Caller.Of(context.GetHttpContext().User),
            context.CancellationToken);
        return outcome.Succeeded ? ToMessage(outcome.Value) : throw ToRpcException(outcome.Problem);
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
            ActivatedAt = version.ActivatedAt is { } activated ? Timestamp.FromDateTimeOffset(activated) : null,
            ActivatedBy = version.ActivatedBy is { } by ? new RegistryV1.Actor { Service = by.Service, User = by.User ?? "" } : null,
        };
        message.Labels.AddRange(version.Labels);
        message.Metrics.Add(version.Metrics.ToDictionary());
        return message;
    }

    // Validation failures name the proto's fields (snake_case, under "version." in a registration), in the BadRequest
    // and in the message; the mapping itself is the one every C# service uses.
    private static RpcException ToRpcException(ProblemDetails problem, string fieldPrefix = "")
    {
        string Field(string key) => fieldPrefix + SnakeCase(key);
        if (problem.Extensions.TryGetValue("errors", out var value) && value is IDictionary<string, string[]> { Count: > 0 } errors)
        {
            problem.Detail = $"The request has {errors.Count} invalid field{(errors.Count == 1 ? "" : "s")}: " +
                             $"{string.Join(", ", errors.Keys.Select(Field))}.";
        }

        return GrpcProblems.ToRpcException(problem, Field);
    }

    private static string SnakeCase(string camelCase) => string.Concat(camelCase.Select((c, i) =>
        char.IsUpper(c) ? (i > 0 ? "_" : "") + char.ToLowerInvariant(c) : c.ToString()));
}
