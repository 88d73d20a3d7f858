using Microsoft.Playwright;

namespace RewardedSoups.Tests.Fixtures;

/// <summary>One headless-browser page on a served run, with every console error and uncaught page error collected.</summary>
public sealed class BrowserPage : IAsyncDisposable
{
    private readonly IBrowserContext _context;
    private readonly List<string> _errors = [];

    private BrowserPage(IBrowserContext context, IPage page)
    {
        _context = context;
        Page = page;
        Page.Console += (_, message) =>
        {
            if (message.Type == "error") lock (_errors) _errors.Add($"console: {message.Text} ({message.Location})");
        };
        Page.PageError += (_, error) =>
        {
            lock (_errors) _errors.Add($"page error: {error}");
        };
    }

    /// <summary>How long a navigation or a wait may take before the test fails (a hang, not slowness, is what it catches).</summary>
    public const float GuardTimeoutMs = 120_000;

    public IPage Page { get; }

    /// <summary>Opens <paramref name="path"/> (default: run.html of the fixture's run) in a fresh 1400 × 900 browser context.</summary>
    public static async Task<BrowserPage> OpenAsync(IBrowser browser, ServedRunFixture app, string? path = null)
    {
        IBrowserContext context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = app.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1400, Height = 900 },
        });
        // Playwright's 30 s default is a guard against a hang, not a speed requirement: on a CI machine whose two
        // cores also run the CLI tests' trainings, loading run.html (3.5 MB of Plotly to parse) once took longer.
        context.SetDefaultTimeout(GuardTimeoutMs);
        context.SetDefaultNavigationTimeout(GuardTimeoutMs);
        var page = new BrowserPage(context, await context.NewPageAsync());
        await page.Page.GotoAsync(path ?? $"run.html?id={app.RunId}");
        return page;
    }

    /// <summary>Saves a full-page PNG beside the test binaries (<c>TestResults/NAME</c>) and returns its path.</summary>
    public async Task<string> ScreenshotAsync(string fileName)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "TestResults", fileName);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        return path;
    }

    public void AssertNoErrors()
    {
        lock (_errors) Assert.True(_errors.Count == 0, string.Join("\n", _errors));
    }

    public async ValueTask DisposeAsync() => await _context.CloseAsync();
}
