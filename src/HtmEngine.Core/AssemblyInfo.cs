// Every stackalloc in this assembly sizes and fills its buffer before reading it.
[module: System.Runtime.CompilerServices.SkipLocalsInit]
[assembly: System.CLSCompliant(false)]
