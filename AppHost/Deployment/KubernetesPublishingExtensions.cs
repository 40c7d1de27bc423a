#pragma warning disable ASPIREPIPELINES001, ASPIREPIPELINES004 // the pipeline API is experimental in Aspire 13
using System.ComponentModel.DataAnnotations;
using AppHost.Python;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Pipelines;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AppHost.Deployment;

public static partial class KubernetesPublishingExtensions
{
    public const string StepName = "publish-kustomize";
    public const string ImageRegistryParameter = "image-registry";
    public const string ImageTagParameter = "image-tag";

    /// <summary>
    /// <c>--operation publish --step publish --output-path DIR</c> writes a kustomize base for the whole application
    /// model into DIR (docs/deployment.md). Publish mode only: a run is not changed at all. A failed publish exits
    /// non-zero (Aspire's own exit code stays 0 when a step throws).
    /// </summary>
    public static IDistributedApplicationBuilder AddKubernetesPublishing(this IDistributedApplicationBuilder builder)
    {
        if (!builder.ExecutionContext.IsPublishMode)
        {
            return builder;
        }

        // Where `docker push` / `dotnet publish /t:PublishContainer` put the images: kustomize's images: entries.
        var registry = builder.AddImageParameter(ImageRegistryParameter, "registry.example.com");
        var tag = builder.AddImageParameter(ImageTagParameter, "latest");

        builder.Pipeline.AddStep(StepName, async context =>
        {
            try
            {
                var options = ReadOptions(builder.Configuration);
                var reader = new ClusterModelReader(context.Model, context.ExecutionContext, context.Logger);
                var cluster = await reader.ReadAsync(context.CancellationToken);
                reader.ApplySettings(cluster, options);
                var images = new ImageSettings(
                    await registry.Resource.GetValueAsync(context.CancellationToken) ?? "",
                    await tag.Resource.GetValueAsync(context.CancellationToken) ?? "");
                var files = new KustomizeBaseBuilder(cluster, options, images, reader.SecretKeys).Build();

                var output = context.Services.GetRequiredService<IPipelineOutputService>().GetOutputDirectory();
                await KustomizeWriter.WriteAsync(output, files, context.CancellationToken);
                PublishLog.Written(context.Logger, cluster.Workloads.Count, output);
            }
            catch (Exception exception)
            {
                PublishLog.Failed(context.Logger, exception);
                Environment.ExitCode = 1;
                throw;
            }
        }, requiredBy: WellKnownPipelineSteps.Publish);

        return builder;
    }

    /// <summary>A parameter (<c>Parameters:&lt;name&gt;</c>) with a default; publishing only, so not in the manifest.</summary>
    private static IResourceBuilder<ParameterResource> AddImageParameter(
        this IDistributedApplicationBuilder builder, string name, string defaultValue) =>
        builder.AddParameter(name, builder.Configuration[$"Parameters:{name}"] is { Length: > 0 } configured ? configured : defaultValue)
            .ExcludeFromManifest();

    /// <summary>
    /// Publishes the Python app as a container built from its committed Dockerfile (an <c>executable.v0</c> is not
    /// deployable). The build context is the repository root: the image generates its gRPC stubs from protos/.
    /// </summary>
    public static IResourceBuilder<UvicornAppResource> PublishAsDockerfileImage(this IResourceBuilder<UvicornAppResource> app)
    {
        var root = Path.GetFullPath("..", app.ApplicationBuilder.AppHostDirectory);
        var dockerfile = Path.Combine(app.Resource.WorkingDirectory, "Dockerfile");
        return app.PublishAsDockerFile(container => container.WithDockerfile(root, Path.GetRelativePath(root, dockerfile)));
    }

    /// <summary>
    /// In the cluster, <paramref name="source"/> may call only these endpoints of <paramref name="target"/>: its
    /// network policy opens only their ports, and it is given only their addresses. A run is not affected.
    /// </summary>
    public static IResourceBuilder<T> CallsInCluster<T>(
        this IResourceBuilder<T> source, IResourceBuilder<IResource> target, params string[] endpointNames)
        where T : IResource =>
        source.WithAnnotation(new ClusterReachAnnotation(target.Resource.Name, endpointNames));

    /// <summary>
    /// In the cluster, <paramref name="caller"/>'s <paramref name="variable"/> is the gRPC address
    /// <c>dns:///&lt;target&gt;-headless:&lt;port&gt;</c>: the target gets a headless Service (its name resolves to
    /// the ready pods' addresses) and the caller's channel keeps a connection to each pod and sends its calls to them in
    /// turn. Through the ClusterIP Service, kube-proxy would pin a channel's one HTTP/2 connection, and so every call,
    /// to one pod. A run and the Aspire manifest are not affected.
    /// </summary>
    public static IResourceBuilder<T> BalancesGrpcInCluster<T>(
        this IResourceBuilder<T> caller, string variable, EndpointReference endpoint) where T : IResourceWithEnvironment =>
        caller.WithAnnotation(new BalancedGrpcAnnotation(variable, endpoint));

    /// <summary>In the cluster only, <paramref name="name"/> is <paramref name="value"/> (over the model's environment).</summary>
    public static IResourceBuilder<T> InCluster<T>(this IResourceBuilder<T> resource, string name, string value)
        where T : IResourceWithEnvironment =>
        resource.WithAnnotation(new ClusterSettingAnnotation(name, value));

    internal static KubernetesDeploymentOptions ReadOptions(IConfiguration configuration)
    {
        var options = configuration.GetSection(KubernetesDeploymentOptions.SectionName).Get<KubernetesDeploymentOptions>()
                      ?? new KubernetesDeploymentOptions();
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        foreach (var (name, autoscaling) in options.Autoscaling)
        {
            var nested = new List<ValidationResult>();
            Validator.TryValidateObject(autoscaling, new ValidationContext(autoscaling), nested, validateAllProperties: true);
            results.AddRange(nested.Select(result => new ValidationResult($"Autoscaling:{name}: {result.ErrorMessage}")));
        }

        if (results.Count > 0)
        {
            throw new DistributedApplicationException(
                $"{KubernetesDeploymentOptions.SectionName} is invalid: " +
                string.Join("; ", results.Select(result => result.ErrorMessage)));
        }

        return options;
    }
}

/// <summary>See <see cref="KubernetesPublishingExtensions.CallsInCluster{T}"/>.</summary>
internal sealed class ClusterReachAnnotation(string target, IReadOnlyCollection<string> endpointNames) : IResourceAnnotation
{
    public bool Excludes(string resource, string endpoint) => resource == target && !endpointNames.Contains(endpoint);
}

/// <summary>See <see cref="KubernetesPublishingExtensions.BalancesGrpcInCluster{T}"/>.</summary>
internal sealed record BalancedGrpcAnnotation(string Variable, EndpointReference Endpoint) : IResourceAnnotation
{
    /// <summary>The address scheme Grpc.Net.Client resolves through DNS (ServiceDefaults' <c>GrpcBalancing</c>).</summary>
    public const string Scheme = "dns";
}

/// <summary>See <see cref="KubernetesPublishingExtensions.InCluster{T}"/>.</summary>
internal sealed record ClusterSettingAnnotation(string Name, string Value) : IResourceAnnotation;

internal sealed record ImageSettings(string Registry, string Tag);

internal static partial class PublishLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Kustomize base for {Count} resources written to {Output}")]
    public static partial void Written(ILogger logger, int count, string output);

    [LoggerMessage(Level = LogLevel.Error, Message = "The Kubernetes publish failed")]
    public static partial void Failed(ILogger logger, Exception exception);
}
