using Gateway.Apis;
using Gateway.Extensions;
using ServiceDefaults.Problems;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseProblemDetailsContract();
app.MapOpenApi();
app.MapDefaultEndpoints();
app.MapPredictionsApi();
app.MapJobsApi();

app.Run();

/// <summary>Entry point, visible to the test host.</summary>
public partial class Program;
