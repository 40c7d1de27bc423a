namespace AppHost.Tests;

/// <summary>
/// The same stack on PostgreSQL (<c>Database:Provider=postgres</c>, the machine's PostgreSQL 15 as a local resource)
/// with three Worker replicas sharing it, and its gateway on the default transport to python-inference (gRPC; the
/// SQLite stack's <c>gateway</c> uses HTTP/JSON). Started once for every test in <see cref="PostgresCollection"/>,
/// beside the SQLite stack; no second gateway (the transport tests use the SQLite stack's). The dashboard stays: some
/// shared tests read traces from it.
/// </summary>
public sealed class PostgresStackFixture : AppHostFixture
{
    public override int WorkerReplicas => 3;

    protected override IEnumerable<string> ExtraArguments => ["--Database:Provider=postgres", "--Database:Runtime=local"];

    protected override IEnumerable<string> ExtraResources => ["postgres"];

    protected override bool WithGrpcGateway => false;

    protected override string? GatewayTransport => null; // the default: gRPC

    // The rate-limit tests measure the default prediction budgets here (the SQLite stack lifts them for batching).
    protected override bool LiftPredictionLimits => false;

    public override string RegistryTransport => "Grpc";

    protected override bool WithModelRepository => false; // the built-in models only: the repository is the SQLite stack's

    public override TimeSpan? InferenceConnectionAge => null; // python-inference's default

    // Jobs wait for an unreachable python-inference as they do by default (PostgresReplicaTests checks it).
    protected override TimeSpan? InferenceUnreachableWait => null;
}

/// <summary>The end-to-end tests that run on the PostgreSQL stack: one at a time (the kill test stops replicas).</summary>
[CollectionDefinition(nameof(PostgresCollection))]
public sealed class PostgresCollection : ICollectionFixture<PostgresStackFixture>;
