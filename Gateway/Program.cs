using Gateway.Apis;
using Gateway.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseGatewayEdge();
app.MapDefaultEndpoints();
app.MapApiDocumentation();
app.MapPredictionsApi();
app.MapJobsApi();

app.Run();

/// <summary>Entry point, visible to the test host.</summary>
public partial class Program;
