"""Placeholder until the family module lands."""

import streamlit as st

st.title("logistic")
st.info("This page is being built.")
