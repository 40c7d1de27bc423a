namespace AppHost;

public static class ReferenceEnvironment
{
    /// <summary>
    /// The services read a reference's connection string (<c>ConnectionStrings__&lt;name&gt;</c>) and its service
    /// discovery (<c>services__&lt;name&gt;__&lt;endpoint&gt;__0</c>), nothing else. Aspire's other variables for a
    /// reference (a database's <c>WORKERDB_HOST</c>, <c>_URI</c>, <c>_PASSWORD</c>, ...; an endpoint's <c>WORKER_HTTP</c>)
    /// would be noise in every environment, in the kustomize base and in the manifest, and a password copied once more.
    /// </summary>
    public static IResourceBuilder<T> WithOnlyTheReferenceVariablesItReads<T>(this IResourceBuilder<T> service)
        where T : IResourceWithEnvironment =>
        service.WithReferenceEnvironment(ReferenceEnvironmentInjectionFlags.ConnectionString | ReferenceEnvironmentInjectionFlags.ServiceDiscovery);
}
