using AppHost;
using AppHost.Deployment;
using AppHost.Messaging;
using AppHost.Python;

var builder = DistributedApplication.CreateBuilder(args);

// Publish mode only: a kustomize base for Kubernetes (--step publish) next to the Aspire manifest (docs/deployment.md).
builder.AddKubernetesPublishing();

// RabbitMQ: a container, the machine's rabbitmq-server, or an external broker (Messaging:Runtime).
var messaging = builder.AddMessageBroker("messaging");

var inference = builder.AddUvicornApp("python-inference", "../python-inference", "app.main:app")
    .WithHttpHealthCheck("/health")
    .WithGrpcHealthCheck("inference.v1.Inference")
    .WithAnalyticsDatabase(builder)
    .PublishAsDockerfileImage();

// Two competing consumers of the jobs queue, sharing one job database; Aspire's proxy spreads HTTP calls over both.
// The `grpc` endpoint serves the model registry (registry.v1) to python-inference.
var worker = builder.AddProject<Projects.Worker>("worker")
    .WithHttpEndpoint()
    .WithGrpcEndpoint()
    .WithReplicas(2)
    .WithHttpHealthCheck("/health")
    .WithGrpcHealthCheck("registry.v1.ModelRegistry")
    .WithJobDatabase(builder)
    .WithWebhooks(builder)
    .WithReference(messaging).WaitFor(messaging)
    .WithReference(inference).WaitFor(inference);

// Python calls back into C# (the model registry lives in the Worker), so it discovers the Worker too; it consumes
// the events exchange as well, but serves predictions whether or not the broker is up.
inference.WithReference(worker).WithReference(messaging)
    .CallsInCluster(worker, GrpcEndpointExtensions.EndpointName);

// The only public entrance: HTTP on 8080 and HTTPS on 8443 (its launch profile). Kestrel listens itself, on
// both loopback families; Aspire's proxy would listen on 127.0.0.1 only.
builder.AddProject<Projects.Gateway>("gateway")
    .WithEndpoint("http", endpoint => endpoint.IsProxied = false)
    .WithEndpoint("https", endpoint => endpoint.IsProxied = false)
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health", endpointName: "http")
    .WithReference(inference).WaitFor(inference)
    .WithReference(worker).WaitFor(worker);

builder.Build().Run();
