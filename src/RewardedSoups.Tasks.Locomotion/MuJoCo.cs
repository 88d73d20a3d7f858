using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RewardedSoups.Tasks.Locomotion;

/// <summary>
/// The MuJoCo 2.2.2 C library (Debian package libmujoco2.2.2), bound by P/Invoke. It is loaded once per
/// process on first use: <c>libmujoco.so.2.2.2</c>, else <c>libmujoco.so</c>; the version must be 2.2.2
/// because <see cref="MjLayout"/> reads its structs at that version's offsets. Use it through
/// <see cref="MjModel"/> and <see cref="MjData"/>.
/// </summary>
public static unsafe partial class MuJoCo
{
    /// <summary>The only version whose struct layout we know: mj_version() of 2.2.2.</summary>
    public const int SupportedVersion = 222;

    /// <summary>The message when the library is missing; the scripts install the package named in it.</summary>
    public const string NotFoundMessage =
        "MuJoCo 2.2.2 not found: install the Debian package libmujoco2.2.2 (./soup and ./test.sh install it)";

    internal const int ObjectBody = 1;      // mjOBJ_BODY
    internal const int ObjectActuator = 18; // mjOBJ_ACTUATOR

    private const string LibraryName = "mujoco";

    // Lazy keeps the first failure and rethrows it unchanged on every later use, so a missing library
    // reads the same one line each time instead of a TypeInitializationException.
    private static readonly Lazy<nint> Library = new(Load);

    // MuJoCo's compiler swaps the process-wide error handlers while it runs, so two loads must not overlap.
    private static readonly Lock LoadXmlLock = new();

    /// <summary>mj_version() of the loaded library (222 for 2.2.2); loads it first.</summary>
    public static int Version
    {
        get
        {
            EnsureLoaded();
            return mj_version();
        }
    }

    /// <summary>Loads the library once; throws <see cref="DllNotFoundException"/> with <see cref="NotFoundMessage"/> when it is missing or not 2.2.2.</summary>
    public static void EnsureLoaded() => _ = Library.Value;

    private static nint Load()
    {
        if (!NativeLibrary.TryLoad("libmujoco.so.2.2.2", out nint handle) && !NativeLibrary.TryLoad("libmujoco.so", out handle))
            throw new DllNotFoundException(NotFoundMessage);
        NativeLibrary.SetDllImportResolver(typeof(MuJoCo).Assembly, (name, _, _) => name == LibraryName ? handle : 0);
        int version = mj_version();
        if (version != SupportedVersion)
            throw new DllNotFoundException($"{NotFoundMessage}; the library found reports version {version}");
        // MuJoCo reports through two process-wide function pointers whose defaults print to stdout, append
        // to MUJOCO_LOG.TXT in the working directory and, on errors, wait for Enter and exit().
        // Warnings are also counted in each mjData (MjData.WarningCount), which is what LocomotionEnv
        // reads, so their text is dropped.
        *(delegate* unmanaged[Cdecl]<byte*, void>*)NativeLibrary.GetExport(handle, "mju_user_warning") = &IgnoreWarning;
        *(delegate* unmanaged[Cdecl]<byte*, void>*)NativeLibrary.GetExport(handle, "mju_user_error") = &FailOnError;
        return handle;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void IgnoreWarning(byte* message)
    {
    }

    // A MuJoCo error means its own invariants broke (e.g. its stack ran out). MuJoCo must not continue
    // after the handler returns, and a managed exception cannot unwind through its C frames, so the
    // process ends here with the message rather than in MuJoCo's exit().
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void FailOnError(byte* message) =>
        Environment.FailFast("MuJoCo error: " + Marshal.PtrToStringUTF8((nint)message));

    /// <summary>mj_loadXML, one load at a time; returns the model pointer (0 on failure) and MuJoCo's error text.</summary>
    internal static nint LoadXml(string path, out string error)
    {
        const int ErrorSize = 1000;
        byte* buffer = stackalloc byte[ErrorSize];
        buffer[0] = 0;
        nint model;
        lock (LoadXmlLock)
            model = mj_loadXML(path, 0, buffer, ErrorSize);
        error = Marshal.PtrToStringUTF8((nint)buffer) ?? "";
        return model;
    }

    [LibraryImport(LibraryName)]
    private static partial int mj_version();

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint mj_loadXML(string filename, nint vfs, byte* error, int errorSize);

    [LibraryImport(LibraryName)]
    internal static partial nint mj_makeData(nint model);

    [LibraryImport(LibraryName)]
    internal static partial void mj_deleteData(nint data);

    [LibraryImport(LibraryName)]
    internal static partial void mj_deleteModel(nint model);

    [LibraryImport(LibraryName)]
    internal static partial void mj_resetData(nint model, nint data);

    [LibraryImport(LibraryName)]
    internal static partial void mj_step(nint model, nint data);

    [LibraryImport(LibraryName)]
    internal static partial void mj_forward(nint model, nint data);

    [LibraryImport(LibraryName)]
    internal static partial void mj_kinematics(nint model, nint data);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int mj_name2id(nint model, int type, string name);

    [LibraryImport(LibraryName)]
    internal static partial byte* mj_id2name(nint model, int type, int id);
}
