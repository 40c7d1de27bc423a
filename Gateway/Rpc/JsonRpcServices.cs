namespace Gateway.Rpc;

public static class JsonRpcServices
{
    /// <summary>
    /// The JSON-RPC endpoint's services: its validated options (section <c>JsonRpc</c>) and the method table.
    /// The methods' scopes are authorization policies of the same names, which the application defines.
    /// </summary>
    public static IHostApplicationBuilder AddJsonRpc(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddValidatedOptions<JsonRpcOptions>(JsonRpcOptions.SectionName);
        builder.Services.AddSingleton(JsonRpcMethods.Create());
        builder.Services.AddSingleton<JsonRpcDispatcher>();
        return builder;
    }
}
