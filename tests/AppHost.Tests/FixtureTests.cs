namespace AppHost.Tests;

/// <summary>What the shared stack keeps for its own failures.</summary>
public sealed class FixtureTests(AppHostFixture stack)
{
    [Theory]
    [InlineData("gateway")]
    [InlineData("worker")]
    [InlineData("python-inference")]
    public void Each_resources_last_console_lines_are_kept_to_explain_a_start_that_fails(string resource) =>
        Assert.False(string.IsNullOrWhiteSpace(stack.LastLinesOf(resource)), $"nothing kept of {resource}'s console");
}
