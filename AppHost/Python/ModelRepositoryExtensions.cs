namespace AppHost.Python;

/// <summary>
/// <c>PythonInference:ModelRepository</c>: a folder of models trained elsewhere (<c>&lt;name&gt;/&lt;version&gt;/model.joblib</c>
/// with its <c>model.json</c>), which python-inference serves beside its built-in ones as <c>MODEL_REPOSITORY</c>
/// (docs/models.md). In a run it is a folder of this machine, made absolute and checked here, so a wrong path stops the
/// AppHost rather than python-inference's start-up; published, it is the path inside python-inference's image, passed on
/// as it is.
/// </summary>
public static class ModelRepositoryExtensions
{
    public const string ConfigurationKey = "PythonInference:ModelRepository";
    public const string EnvironmentVariable = "MODEL_REPOSITORY";

    /// <summary>Which built-in models python-inference serves: <c>none</c>, or some of <c>sentiment,iris</c> (unset: both).</summary>
    public const string BuiltInModelsKey = "PythonInference:BuiltInModels";
    public const string BuiltInModelsVariable = "BUILTIN_MODELS";

    /// <summary>
    /// <see cref="BuiltInModelsKey"/>, when set, passed on as it is: python-inference checks it at start-up (an unknown
    /// name, or <c>none</c> without a model repository, stops it). A team serving only its own models sets <c>none</c>.
    /// </summary>
    public static IResourceBuilder<UvicornAppResource> WithBuiltInModelsSetting(this IResourceBuilder<UvicornAppResource> inference) =>
        inference.ApplicationBuilder.Configuration[BuiltInModelsKey] is { Length: > 0 } chosen
            ? inference.WithEnvironment(BuiltInModelsVariable, chosen)
            : inference;

    public static IResourceBuilder<UvicornAppResource> WithModelRepository(this IResourceBuilder<UvicornAppResource> inference)
    {
        var builder = inference.ApplicationBuilder;
        if (builder.Configuration[ConfigurationKey] is not { Length: > 0 } configured)
        {
            return inference;
        }

        if (builder.ExecutionContext.IsPublishMode)
        {
            return inference.WithEnvironment(EnvironmentVariable, configured);
        }

        var folder = Path.GetFullPath(configured);
        if (!Directory.Exists(folder))
        {
            throw new DistributedApplicationException(
                $"{ConfigurationKey} is {configured}, which is not a folder ({folder}). Write models into it first " +
                "(python-inference/examples/train_wine.py shows how; docs/models.md).");
        }

        return inference.WithEnvironment(EnvironmentVariable, folder);
    }
}
