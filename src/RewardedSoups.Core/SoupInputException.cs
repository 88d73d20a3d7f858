namespace RewardedSoups;

/// <summary>
/// Bad input from the user: a corrupt or mismatched file, an invalid weight vector, a malformed
/// configuration. The message is one line naming the file, tensor, key or value at fault; faces
/// print it as it is and exit with status 2. Anything that is not a <see cref="SoupInputException"/>
/// is a failure of ours or of the machine (exit status 1).
/// </summary>
public class SoupInputException : Exception
{
    public SoupInputException(string message) : base(message) { }

    public SoupInputException(string message, Exception inner) : base(message, inner) { }
}
