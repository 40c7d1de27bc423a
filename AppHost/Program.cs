using AppHost;
using AppHost.Database;
using AppHost.Deployment;
using AppHost.Messaging;
using AppHost.Operations;
using AppHost.Python;
using Microsoft.Extensions.Configuration;

var builder = DistributedApplication.CreateBuilder(args);

// Publish mode only: a kustomize base for Kubernetes (--step publish) next to the Aspire manifest (docs/deployment.md).
builder.AddKubernetesPublishing();

// RabbitMQ: a container, the machine's rabbitmq-server, or an external broker (Messaging:Runtime).
var messaging = builder.AddMessageBroker("messaging");

// State: SQLite files (the default) or PostgreSQL (Database:Provider=postgres) from a container, the machine's
// binaries or elsewhere (Database:Runtime): `workerdb` for the Worker, `analyticsdb` for python-inference.
var databases = builder.AddServiceDatabases();

// Every call to the Worker carries a short-lived token signed with its caller's own key (docs/security.md): the
// gateway's, python-inference's, and (run mode only) the dashboard commands'.
var callerKeys = builder.AddWorkerCallerKeys();

var inference = builder.AddUvicornApp("python-inference", "../python-inference", "app.main:app")
    .WithOnlyTheReferenceVariablesItReads()
    .WithHttpHealthCheck("/health")
    .WithGrpcHealthCheck("inference.v1.Inference")
    .WithAnalyticsDatabase(databases)
    .WithFastApiDocsLink()
    // Models trained elsewhere, served beside the built-in ones (PythonInference:ModelRepository; docs/models.md).
    .WithModelRepository()
    // Which built-in models it serves besides (PythonInference:BuiltInModels: none, or some of sentiment,iris).
    .WithBuiltInModelsSetting()
    .PublishAsDockerfileImage();

// Two competing consumers of the jobs queue (Worker:Replicas), sharing one job database; Aspire's proxy spreads HTTP calls over both.
// The `grpc` endpoint serves the model registry (registry.v1) to python-inference. In Kubernetes, its gRPC calls to
// python-inference, and the gateway's, go to every python-inference pod in turn (a headless Service; docs/deployment.md).
var worker = builder.AddProject<Projects.Worker>("worker")
    .WithOnlyTheReferenceVariablesItReads()
    .WithHttpEndpoint()
    .WithGrpcEndpoint()
    .WithReplicas(builder.Configuration.GetValue("Worker:Replicas", 2))
    .WithHttpHealthCheck("/health")
    .WithGrpcHealthCheck("registry.v1.ModelRegistry")
    .WithJobDatabase(databases)
    .WithWebhooks(builder)
    .WithCallers(callerKeys)
    .WithReference(messaging).WaitFor(messaging)
    .WithReference(inference).WaitFor(inference)
    .BalancesGrpcInCluster("Inference__GrpcAddress", inference.GetEndpoint("grpc"))
    .WithJobOperations(callerKeys);

// Python calls back into C# (the model registry lives in the Worker, over gRPC or HTTP/JSON: Registry:Transport), so it
// discovers the Worker too; it consumes the events exchange as well, but serves predictions whether or not the broker is up.
inference.WithReference(worker).WithReference(messaging)
    .WithModelVersionSwitch(worker, callerKeys)
    .WithWorkerToken(callerKeys, worker, builder);

// The only public entrance: HTTP on 8080 and HTTPS on 8443 (its launch profile; Gateway:HttpPort and
// Gateway:HttpsPort move them, as the benchmark does). It calls python-inference over gRPC (Gateway:InferenceTransport
// Http: over HTTP/JSON). Kestrel listens itself, on both loopback families; Aspire's
// proxy would listen on 127.0.0.1 only.
IResourceBuilder<ProjectResource> CallsUpstream(IResourceBuilder<ProjectResource> gateway) => gateway
    .WithOnlyTheReferenceVariablesItReads()
    .WithWorkerToken(callerKeys)
    .WithInferenceTransport(builder)
    .WithReference(inference).WaitFor(inference)
    .BalancesGrpcInCluster("Inference__GrpcAddress", inference.GetEndpoint("grpc"))
    .WithReference(worker).WaitFor(worker);

CallsUpstream(builder.AddProject<Projects.Gateway>("gateway")
    .WithEndpoint("http", endpoint => endpoint.ListenItself(builder.Configuration.GetValue<int?>("Gateway:HttpPort")))
    .WithEndpoint("https", endpoint => endpoint.ListenItself(builder.Configuration.GetValue<int?>("Gateway:HttpsPort")))
    .WithExternalHttpEndpoints()
    .TrustsIngressTlsWhenPublished()
    .WithHttpHealthCheck("/health", endpointName: "http")
    .WithApiDocumentationLinks());

// Benchmarks only: AppHost:UnbatchedGatewayPort=N adds the same gateway with batching off on that port.
builder.AddUnbatchedGatewayWhenAsked(CallsUpstream);

// Benchmarks only: AppHost:ExportTelemetry=false starts every service without an OTLP endpoint.
builder.ApplyTelemetryExportSetting();
// OTEL_TRACES_SAMPLER / _ARG in the AppHost's environment replace Aspire's "every trace" in every service.
builder.ApplyTraceSamplingSetting();
// Run mode: the dashboard keeps at most an hour of each metric series (Dashboard:TelemetryLimits:*, docs/operations.md).
builder.ApplyDashboardTelemetryLimits();

builder.Build().Run();
