namespace RewardedSoups.Tasks.Locomotion;

/// <summary>
/// Byte offsets of the mjModel and mjData fields we read, valid for MuJoCo 2.2.2 on 64-bit Linux
/// (LP64: int 4 bytes, pointers and mjtNum 8). MuJoCo has no stable ABI for these structs, so they
/// are pinned to one version, which <see cref="MuJoCo"/> checks (mj_version() == 222) at load.
///
/// How they were obtained: a throw-away C program compiled against the headers of the Debian
/// package libmujoco-dev 2.2.2-3 (/usr/include/mujoco/mjmodel.h, mjdata.h) printed
/// <c>offsetof(mjModel, f)</c> and <c>offsetof(mjData, f)</c> for each field below
/// (sizeof(mjModel) = 3280, sizeof(mjData) = 41176). The product does not need the headers.
/// How they are verified: by behaviour, in MjLayoutTests (sizes of known models, time after steps,
/// qpos0 of known models, ctrl ranges, body positions against joint positions, warning counters).
/// </summary>
internal static class MjLayout
{
    // mjModel: sizes (int)
    public const int ModelNq = 0;
    public const int ModelNv = 4;
    public const int ModelNu = 8;
    public const int ModelNa = 12;
    public const int ModelNbody = 16;

    // mjModel: options (mjOption opt starts at 232; timestep is its first field, mjtNum)
    public const int ModelTimestep = 232;

    // mjModel: arrays (pointers)
    public const int ModelQpos0 = 1096;               // mjtNum*  (nq)
    public const int ModelBodyParentId = 1112;        // int*     (nbody)
    public const int ModelActuatorCtrlLimited = 2744; // mjtByte* (nu)
    public const int ModelActuatorCtrlRange = 2792;   // mjtNum*  (nu x 2)

    // mjData: diagnostics. mjWarningStat warning[8] starts at 24; each is { int lastinfo; int number; }.
    public const int DataWarnings = 24;
    public const int WarningStatSize = 8;
    public const int WarningNumber = 4;

    // mjData: scalars
    public const int DataTime = 40336; // mjtNum

    // mjData: arrays (pointers into the data's own buffer, fixed for its lifetime)
    public const int DataQpos = 40376; // mjtNum* (nq)
    public const int DataQvel = 40384; // mjtNum* (nv)
    public const int DataAct = 40392; // mjtNum* (na)
    public const int DataQaccWarmstart = 40400; // mjtNum* (nv)
    public const int DataCtrl = 40408; // mjtNum* (nu)
    public const int DataXpos = 40480; // mjtNum* (nbody x 3)
}
