#ifndef ZOO_CHDF5_SHIM_H
#define ZOO_CHDF5_SHIM_H

#include <hdf5.h>

// HDF5 spells these constants as macros that call H5open() or cast, which Swift
// cannot import; each wrapper below exists only to give Swift that one value.

/// H5F_ACC_RDONLY expands to H5check/H5open calls.
static inline unsigned zoo_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
/// H5F_ACC_TRUNC expands to H5check/H5open calls.
static inline unsigned zoo_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
/// H5S_ALL is a cast expression.
static inline hid_t zoo_h5s_all(void) { return H5S_ALL; }
/// H5T_VARIABLE is a cast expression.
static inline size_t zoo_h5t_variable(void) { return H5T_VARIABLE; }

/// The minor error numbers HDF5Error.Kind names: globals that exist only after H5open().
static inline hid_t zoo_h5e_cantopenfile(void) { return H5E_CANTOPENFILE; }
static inline hid_t zoo_h5e_nothdf5(void) { return H5E_NOTHDF5; }
static inline hid_t zoo_h5e_notfound(void) { return H5E_NOTFOUND; }
static inline hid_t zoo_h5e_cantopenobj(void) { return H5E_CANTOPENOBJ; }
static inline hid_t zoo_h5e_readerror(void) { return H5E_READERROR; }

/// H5P_FILE_CREATE and H5P_GROUP_CREATE are globals that exist only after H5open().
static inline hid_t zoo_h5p_file_create(void) { return H5P_FILE_CREATE; }
static inline hid_t zoo_h5p_group_create(void) { return H5P_GROUP_CREATE; }
static inline hid_t zoo_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
/// H5P_FILE_ACCESS likewise (the in-memory file driver is set on one).
static inline hid_t zoo_h5p_file_access(void) { return H5P_FILE_ACCESS; }

/// H5FD_SEC2 calls the driver's init function; HADDR_UNDEF's width depends on configuration.
static inline hid_t zoo_h5fd_sec2(void) { return H5FD_SEC2; }
static inline haddr_t zoo_haddr_undef(void) { return HADDR_UNDEF; }

/// The H5T_NATIVE_* types are globals that exist only after H5open().
static inline hid_t zoo_h5t_native_int8(void) { return H5T_NATIVE_INT8; }
static inline hid_t zoo_h5t_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t zoo_h5t_native_int16(void) { return H5T_NATIVE_INT16; }
static inline hid_t zoo_h5t_native_uint16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t zoo_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t zoo_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t zoo_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t zoo_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }

/// The H5T_STD_* / H5T_IEEE_* / H5T_C_S1 file types are globals that exist only after H5open().
static inline hid_t zoo_h5t_std_i8le(void) { return H5T_STD_I8LE; }
static inline hid_t zoo_h5t_std_u8le(void) { return H5T_STD_U8LE; }
static inline hid_t zoo_h5t_std_i16le(void) { return H5T_STD_I16LE; }
static inline hid_t zoo_h5t_std_u16le(void) { return H5T_STD_U16LE; }
static inline hid_t zoo_h5t_std_i32le(void) { return H5T_STD_I32LE; }
static inline hid_t zoo_h5t_std_i64le(void) { return H5T_STD_I64LE; }
static inline hid_t zoo_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t zoo_h5t_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t zoo_h5t_c_s1(void) { return H5T_C_S1; }


/// Where the hard link an H5Literate callback was given points (its `info`), or 0 when it is not
/// a hard link or the library names objects by token (1.12 and later): zoo then opens by name.
static inline haddr_t zoo_link_address(const void *info) {
#if H5_VERSION_GE(1, 12, 0)
    (void)info;
    return 0;
#else
    const H5L_info_t *link = (const H5L_info_t *)info;
    return link != NULL && link->type == H5L_TYPE_HARD ? link->u.address : 0;
#endif
}

/// Opens the object at `address` (from zoo_link_address); negative where the library lacks it.
static inline hid_t zoo_open_by_address(hid_t location, haddr_t address) {
#if H5_VERSION_GE(1, 12, 0)
    (void)location;
    (void)address;
    return -1;
#else
    return H5Oopen_by_addr(location, address);
#endif
}

#endif
