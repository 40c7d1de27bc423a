using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

public static class OptionsExtensions
{
    /// <summary>
    /// Options bound from the configuration section <paramref name="section"/> and checked against their data
    /// annotations when the host starts, so a bad setting stops the service at start-up rather than at first use.
    /// </summary>
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions>(this IServiceCollection services, string section)
        where TOptions : class =>
        services.AddOptions<TOptions>().BindConfiguration(section).ValidateDataAnnotations().ValidateOnStart();
}
