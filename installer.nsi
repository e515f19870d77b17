; Inspection Station - Windows installer (NSIS 3, Modern UI 2, 64-bit).
;
; Build (normally through `python packaging/build.py`, which passes all of this):
;   makensis /DVERSION=0.1.0 /DDIST_DIR=dist\InspectionStation installer.nsi
; Defines:
;   VERSION       required: the project version (pyproject.toml [project] version)
;   VERSION_QUAD  optional: numeric a.b.c.d for the file properties (default: from VERSION)
;   DIST_DIR      the PyInstaller one-folder build (default dist\InspectionStation)
;   OUTFILE       the installer to write (default dist\InspectionStation-VERSION-setup.exe)
;   COMPRESS      lzma (release, default), zlib, bzip2, or off (quick checks)
;
; Install silently (IT):   InspectionStation-0.1.0-setup.exe /S [/NODESKTOPSHORTCUT] [/D=C:\Path]
;   /D= must be the last argument and is not quoted, even with spaces.
; Uninstall silently:      "C:\Program Files\InspectionStation\uninstall.exe" /S [/REMOVEUSERDATA]
; Settings, logs, results and images live in the user's folders
; (%LOCALAPPDATA%\InspectionStation), never under Program Files; they survive an
; uninstall unless the user ticks "Remove my settings, logs and images" (/REMOVEUSERDATA).

Target amd64-unicode
Unicode true

; ---- build-time parameters -------------------------------------------------------------

!ifndef VERSION
  !error "VERSION is not defined: run `python packaging/build.py`, or pass /DVERSION=x.y.z (the version in pyproject.toml)"
!endif
!ifndef DIST_DIR
  !define DIST_DIR "dist\InspectionStation"
!endif
!if ! /FileExists "${DIST_DIR}\_internal\*"
  !error "DIST_DIR=${DIST_DIR} holds no PyInstaller build (no _internal folder): build it first with `python packaging/build.py` or pass /DDIST_DIR=..."
!endif
!ifndef OUTFILE
  !define OUTFILE "dist\InspectionStation-${VERSION}-setup.exe"
!endif
!ifndef VERSION_QUAD
  !searchparse /noerrors "${VERSION}.0.0.0" "" V_1 "." V_2 "." V_3 "."
  !define VERSION_QUAD "${V_1}.${V_2}.${V_3}.0"
!endif
!ifndef COMPRESS
  !define COMPRESS "lzma"
!endif
!if "${COMPRESS}" == "off"
  SetCompress off
!else
  SetCompressor /SOLID ${COMPRESS}
!endif

; ---- names -------------------------------------------------------------------------------

!define APP_NAME "Inspection Station"
!define APP_ID "InspectionStation"             ; folder, registry and data-folder name
!define APP_EXE "InspectionStation.exe"        ; the station (windowed)
!define CLI_EXE "inspection-station.exe"       ; the same commands with a console
!define PUBLISHER "Inspection Station team"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP_ID}"
; platformdirs' user folders for appname=appauthor="InspectionStation" on Windows:
; %LOCALAPPDATA%\InspectionStation\InspectionStation (settings, data, results, images, Logs)
!define USER_DATA_ROOT "$LOCALAPPDATA\${APP_ID}"

Name "${APP_NAME} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\${APP_ID}"
InstallDirRegKey HKLM "${UNINST_KEY}" "InstallLocation"
RequestExecutionLevel admin
ManifestDPIAware true
BrandingText "${APP_NAME} ${VERSION}"
ShowInstDetails show
ShowUninstDetails show

VIProductVersion "${VERSION_QUAD}"
VIAddVersionKey "ProductName" "${APP_NAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "FileDescription" "${APP_NAME} installer"
VIAddVersionKey "LegalCopyright" "${PUBLISHER}"

!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"
!include "Sections.nsh"

; ---- pages -------------------------------------------------------------------------------

!define MUI_ICON "resources\icons\app.ico"
!define MUI_UNICON "resources\icons\app.ico"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_NODESC

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

!define MUI_COMPONENTSPAGE_TEXT_TOP "Your settings, logs, results and images are kept unless you tick the box below."
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

; ---- install -----------------------------------------------------------------------------

Section "${APP_NAME} (required)" SecApp
  SectionIn RO
  SetShellVarContext all
  SetOutPath "$INSTDIR"
  ; An upgrade replaces the libraries as a whole: no stale files from the previous version.
  RMDir /r "$INSTDIR\_internal"
  File /r "${DIST_DIR}\*"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateDirectory "$SMPROGRAMS\${APP_NAME}"
  CreateShortCut "$SMPROGRAMS\${APP_NAME}\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}" "" "$INSTDIR\${APP_EXE}" 0
  CreateShortCut "$SMPROGRAMS\${APP_NAME}\Uninstall ${APP_NAME}.lnk" "$INSTDIR\uninstall.exe"

  ; Apps & features entry (64-bit registry view).
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\${APP_EXE},0"
  WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKLM "${UNINST_KEY}" "EstimatedSize" "$0"
SectionEnd

Section "Desktop shortcut" SecDesktop
  SetShellVarContext all
  CreateShortCut "$DESKTOP\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}" "" "$INSTDIR\${APP_EXE}" 0
SectionEnd

Function .onInit
  SetRegView 64
  ; Silent installs: /NODESKTOPSHORTCUT leaves the desktop shortcut out.
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/NODESKTOPSHORTCUT" $R1
  ${IfNot} ${Errors}
    !insertmacro UnselectSection ${SecDesktop}
  ${EndIf}
FunctionEnd

; ---- uninstall ---------------------------------------------------------------------------

Section "un.${APP_NAME}" UnSecApp
  SectionIn RO
  SetShellVarContext all
  Delete "$DESKTOP\${APP_NAME}.lnk"
  Delete "$SMPROGRAMS\${APP_NAME}\${APP_NAME}.lnk"
  Delete "$SMPROGRAMS\${APP_NAME}\Uninstall ${APP_NAME}.lnk"
  RMDir "$SMPROGRAMS\${APP_NAME}"

  ; Only what the installer put there: never RMDir /r the chosen folder itself.
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\InspectionStation*"
  Delete "$INSTDIR\inspection-station*"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"

  DeleteRegKey HKLM "${UNINST_KEY}"
SectionEnd

Section /o "un.Remove my settings, logs, results and images" UnSecUserData
  ; The current user's platformdirs folders (the user who runs the uninstaller).
  SetShellVarContext current
  RMDir /r "${USER_DATA_ROOT}"
SectionEnd

Function un.onInit
  SetRegView 64
  ; Silent uninstalls: /REMOVEUSERDATA also removes the user's data folders.
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/REMOVEUSERDATA" $R1
  ${IfNot} ${Errors}
    !insertmacro SelectSection ${UnSecUserData}
  ${EndIf}
FunctionEnd
